# Standard errors of the variance components of a REML lmer fit, from lme4's own REML
# criterion: the Hessian (stats::optimHess) of the deviance in theta = (log SDs of the
# random effects, Fisher z of their correlations, log residual SD), at lme4's estimates.
# The deviance for a given theta and sigma is rebuilt from lme4's profiled pieces:
#   ldL2 + ldRX2 + (n - p) log(2 pi sigma^2) + pwrss / sigma^2.
# Usage: Rscript lmer_components.R DATA.csv OUT.csv FORMULA
# Writes name,estimate,std_error for var(<group>[:slope]), cor(<group>:a,b),
# var(residual) and, for a random intercept only, icc(<group>).
suppressPackageStartupMessages(library(lme4))
a <- commandArgs(trailingOnly = TRUE)
d <- read.csv(a[1], check.names = FALSE)
fit <- lmer(as.formula(a[3]), data = d, REML = TRUE)
devfun <- lmer(as.formula(a[3]), data = d, REML = TRUE, devFunOnly = TRUE)
env <- environment(devfun)
n <- nrow(d)
p <- ncol(getME(fit, "X"))
vc <- VarCorr(fit)
group <- names(vc)[1]
psi <- as.matrix(vc[[1]])
q <- nrow(psi)
sigma <- sigma(fit)
low <- which(lower.tri(psi), arr.ind = TRUE)
low <- low[order(low[, 1], low[, 2]), , drop = FALSE]       # by row, as mlimpute orders them
theta_of <- function(psi, sigma) {
  sd <- sqrt(diag(psi))
  c(log(sd), atanh(psi[low] / (sd[low[, 1]] * sd[low[, 2]])), log(sigma))
}
deviance_at <- function(par) {
  sd <- exp(par[1:q])
  corr <- diag(q)
  if (nrow(low)) {
    corr[low] <- tanh(par[q + seq_len(nrow(low))])
    corr[low[, c(2, 1), drop = FALSE]] <- corr[low]
  }
  sigma <- exp(par[length(par)])
  lambda <- t(chol(corr * outer(sd, sd))) / sigma            # lme4's relative factor
  devfun(lambda[lower.tri(lambda, diag = TRUE)])
  pwrss <- env$resp$wrss() + env$pp$sqrL(1)
  env$pp$ldL2() + env$pp$ldRX2() + (n - p) * log(2 * pi * sigma^2) + pwrss / sigma^2
}
theta <- theta_of(psi, sigma)
cov <- 2 * solve(optimHess(theta, deviance_at, control = list(ndeps = rep(1e-4, length(theta)))))
se <- sqrt(diag(cov))
name_of <- function(k) if (rownames(psi)[k] == "(Intercept)") "Intercept" else rownames(psi)[k]
var_names <- sapply(seq_len(q), function(k)
  if (name_of(k) == "Intercept") paste0("var(", group, ")") else paste0("var(", group, ":", name_of(k), ")"))
out <- data.frame(name = var_names, estimate = diag(psi), std_error = 2 * diag(psi) * se[1:q])
if (nrow(low)) {
  r <- psi[low] / sqrt(diag(psi)[low[, 1]] * diag(psi)[low[, 2]])
  out <- rbind(out, data.frame(
    name = paste0("cor(", group, ":", sapply(low[, 2], name_of), ",", sapply(low[, 1], name_of), ")"),
    estimate = r, std_error = (1 - r^2) * se[q + seq_len(nrow(low))]))
}
out <- rbind(out, data.frame(name = "var(residual)", estimate = sigma^2,
                             std_error = 2 * sigma^2 * se[length(se)]))
if (q == 1) {
  icc <- psi[1, 1] / (psi[1, 1] + sigma^2)
  g <- c(2, -2)
  out <- rbind(out, data.frame(name = paste0("icc(", group, ")"), estimate = icc,
                               std_error = icc * (1 - icc) * sqrt(drop(t(g) %*% cov %*% g))))
}
write.csv(out, a[2], row.names = FALSE)
