# REML fit of a linear mixed model with lme4, as a reference for mlimpute.analysis.fit.
# Usage: Rscript lmer_fit.R DATA.csv OUT.csv FORMULA
# Writes name,estimate,std_error: fixed effects (statsmodels' names: Intercept, x, ...),
# var(<group>) and var(residual).
suppressPackageStartupMessages(library(lme4))
a <- commandArgs(trailingOnly = TRUE)
d <- read.csv(a[1], check.names = FALSE)   # names such as `w 2` kept as written
fit <- lmer(as.formula(a[3]), data = d, REML = TRUE)
co <- summary(fit)$coefficients
vc <- as.data.frame(VarCorr(fit))
out <- data.frame(name = gsub("`", "", sub("\\(Intercept\\)", "Intercept", rownames(co))),
                  estimate = co[, 1], std_error = co[, 2])
out <- rbind(out, data.frame(name = ifelse(vc$grp == "Residual", "var(residual)",
                                           paste0("var(", vc$grp, ")")),
                             estimate = vc$vcov, std_error = NA))
write.csv(out, a[2], row.names = FALSE)
