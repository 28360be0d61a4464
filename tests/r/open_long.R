# Open mlimpute's R-long output as mice and mitml objects and pool a linear model with both.
# Usage: Rscript open_long.R LONG.csv|LONG.rds OUT.csv FORMULA
suppressPackageStartupMessages({library(mice); library(mitml)})
a <- commandArgs(trailingOnly = TRUE)
long <- if (grepl("\\.rds$", a[1])) readRDS(a[1]) else read.csv(a[1], check.names = FALSE)
imp <- as.mids(long)                                   # mice: .imp 0 = original data
pooled <- summary(pool(with(imp, lm(as.formula(a[3])))))
implist <- as.mitml.list(split(long[long$.imp > 0, ], long$.imp[long$.imp > 0]))
fits <- with(implist, lm(as.formula(a[3])))
est <- testEstimates(fits)$estimates
write.csv(data.frame(term = sub("\\(Intercept\\)", "Intercept", as.character(pooled$term)),
                     mice_estimate = pooled$estimate, mice_se = pooled$std.error,
                     mitml_estimate = est[, "Estimate"], mitml_se = est[, "Std.Error"], m = imp$m),
          a[2], row.names = FALSE)
