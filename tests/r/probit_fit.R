# Maximum-likelihood probit random-intercept fits (lme4::glmer / ordinal::clmm) as an
# external reference for mlimpute's latent-normal responses.
# Usage: Rscript probit_fit.R DATA.csv OUT.csv RESPONSE TYPE CLUSTER COVARIATE
#   TYPE binary: glmer(I(y == second level) ~ x + (1 | cluster), binomial(probit), nAGQ = 10)
#   TYPE ordinal: clmm(y ~ x + (1 | cluster), link = "probit", nAGQ = 10)
# Writes name,estimate rows named as mlimpute's parameter_draws(): beta1[cons,y],
# beta1[x,y], omega_u[y:cons,y:cons] and thresholds[y,k] (k >= 2; the first is 0).
suppressPackageStartupMessages({library(lme4); library(ordinal)})
a <- commandArgs(trailingOnly = TRUE)
d <- read.csv(a[1], na.strings = c("", "NA"))
y <- a[3]; type <- a[4]; cl <- a[5]; x <- a[6]
d <- d[!is.na(d[[y]]), ]
d[[cl]] <- factor(d[[cl]])
if (type == "binary") {
  lev <- sort(unique(d[[y]]))
  d$.y <- as.integer(d[[y]] == lev[2])
  fit <- glmer(as.formula(sprintf(".y ~ %s + (1 | %s)", x, cl)), data = d,
               family = binomial(link = "probit"), nAGQ = 10)
  est <- c(fixef(fit)[1], fixef(fit)[2], VarCorr(fit)[[cl]][1])
  names(est) <- c(sprintf("beta1[cons,%s]", y), sprintf("beta1[%s,%s]", x, y),
                  sprintf("omega_u[%s:cons,%s:cons]", y, y))
} else {
  d$.y <- factor(d[[y]], ordered = TRUE)
  fit <- clmm(as.formula(sprintf(".y ~ %s + (1 | %s)", x, cl)), data = d, link = "probit", nAGQ = 10)
  theta <- fit$alpha
  est <- c(-theta[1], fit$beta[1], as.numeric(VarCorr(fit)[[cl]]), theta[-1] - theta[1])
  names(est) <- c(sprintf("beta1[cons,%s]", y), sprintf("beta1[%s,%s]", x, y),
                  sprintf("omega_u[%s:cons,%s:cons]", y, y),
                  sprintf("thresholds[%s,%d]", y, seq_along(theta)[-1] + 0))
}
write.csv(data.frame(name = names(est), estimate = unname(est)), a[2], row.names = FALSE)
