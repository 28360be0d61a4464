# Reference D1 test of linear hypotheses (mitml::testConstraints) and pooled estimates
# (mitml::testEstimates) for lm fitted to every completed data set of a stacked flong CSV.
# Usage: Rscript test_constraints.R STACKED.csv FORMULA OUT.csv DFCOM HYPOTHESIS...
#   DFCOM "Inf" or a number; each HYPOTHESIS as mitml writes it ("G.x - I.x").
suppressPackageStartupMessages(library(mitml))
a <- commandArgs(trailingOnly = TRUE)
d <- read.csv(a[1], check.names = FALSE)
dfcom <- if (a[4] == "Inf") NULL else as.numeric(a[4])
imps <- split(d[d$`_mi_m` > 0, ], d$`_mi_m`[d$`_mi_m` > 0])
fits <- lapply(imps, function(x) lm(stats::as.formula(a[2]), data = x))
test <- testConstraints(fits, constraints = a[-(1:4)], df.com = dfcom, method = "D1")$test
est <- testEstimates(fits, df.com = dfcom)$estimates
out <- data.frame(what = c("F", "df1", "df2", "p_value", "riv", paste0("df:", rownames(est))),
                  value = c(test[1, "F.value"], test[1, "df1"], test[1, "df2"], test[1, "P(>F)"],
                            test[1, "RIV"], est[, "df"]))
write.csv(out, a[3], row.names = FALSE)
