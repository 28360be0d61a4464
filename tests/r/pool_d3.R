# Reference D3 (likelihood ratio) from mitml::testModels for lm / lmer fits per imputation.
# Usage: Rscript pool_d3.R STACKED.csv OUT.csv FORMULA NULLFORMULA
#   STACKED.csv: R long shape (.imp 0..M, .id); imputations 1..M are used.
suppressPackageStartupMessages({library(mitml); library(lme4)})
a <- commandArgs(trailingOnly = TRUE)
d <- read.csv(a[1], check.names = FALSE)
sets <- split(d[d$.imp > 0, ], d$.imp[d$.imp > 0])
mixed <- grepl("\\|", a[3])
fit <- function(f, data) if (mixed) lmer(as.formula(f), data = data, REML = FALSE) else lm(as.formula(f), data = data)
full <- lapply(sets, function(s) fit(a[3], s))
null <- lapply(sets, function(s) fit(a[4], s))
res <- testModels(full, null, method = "D3")$test
write.csv(data.frame(F = res[1, "F.value"], df1 = res[1, "df1"], df2 = res[1, "df2"],
                     riv = res[1, "RIV"]), a[2], row.names = FALSE)
