# Standard errors of the variance components of a REML lmer fit, from lme4's own REML
# criterion: the Hessian (stats::optimHess) of the deviance in theta = (per random term:
# log SDs, Fisher z of the correlations; then log residual SD), at lme4's estimates.  The
# deviance for a given theta and sigma is rebuilt from lme4's profiled pieces:
#   ldL2 + ldRX2 + (n - p) log(2 pi sigma^2) + pwrss / sigma^2.
# Usage: Rscript lmer_components.R DATA.csv OUT.csv FORMULA
# Writes name,estimate,std_error for var(<group>[:slope]), cor(<group>:a,b),
# var(residual) and, when every term is a random intercept, icc(<group>).
suppressPackageStartupMessages(library(lme4))
a <- commandArgs(trailingOnly = TRUE)
d <- read.csv(a[1], check.names = FALSE)
fit <- lmer(as.formula(a[3]), data = d, REML = TRUE)
devfun <- lmer(as.formula(a[3]), data = d, REML = TRUE, devFunOnly = TRUE)
env <- environment(devfun)
n <- nrow(d)
p <- ncol(getME(fit, "X"))
vc <- VarCorr(fit)                      # the terms in the order of lme4's theta
sigma <- sigma(fit)
lower <- function(q) {                  # lower triangle by row, as mlimpute orders it
  low <- which(lower.tri(diag(q)), arr.ind = TRUE)
  low[order(low[, 1], low[, 2]), , drop = FALSE]
}
theta <- c()
for (g in names(vc)) {
  psi <- as.matrix(vc[[g]])
  sd <- sqrt(diag(psi))
  low <- lower(nrow(psi))
  theta <- c(theta, log(sd), atanh(psi[low] / (sd[low[, 1]] * sd[low[, 2]])))
}
theta <- c(theta, log(sigma))
deviance_at <- function(par) {
  sigma <- exp(par[length(par)])
  lme4_theta <- c()
  start <- 0
  for (g in names(vc)) {
    q <- nrow(as.matrix(vc[[g]]))
    low <- lower(q)
    sd <- exp(par[start + 1:q])
    corr <- diag(q)
    if (nrow(low)) {
      corr[low] <- tanh(par[start + q + seq_len(nrow(low))])
      corr[low[, c(2, 1), drop = FALSE]] <- corr[low]
    }
    start <- start + q + nrow(low)
    lambda <- t(chol(corr * outer(sd, sd))) / sigma        # lme4's relative factor
    lme4_theta <- c(lme4_theta, lambda[lower.tri(lambda, diag = TRUE)])
  }
  devfun(lme4_theta)
  pwrss <- env$resp$wrss() + env$pp$sqrL(1)
  env$pp$ldL2() + env$pp$ldRX2() + (n - p) * log(2 * pi * sigma^2) + pwrss / sigma^2
}
cov <- 2 * solve(optimHess(theta, deviance_at, control = list(ndeps = rep(1e-4, length(theta)))))
se <- sqrt(diag(cov))
out <- data.frame()
start <- 0
name_of <- function(x) if (x == "(Intercept)") "Intercept" else x
intercepts <- c()
for (g in names(vc)) {
  psi <- as.matrix(vc[[g]])
  q <- nrow(psi)
  names <- sapply(rownames(psi), name_of)
  label <- ifelse(names == "Intercept", paste0("var(", g, ")"), paste0("var(", g, ":", names, ")"))
  out <- rbind(out, data.frame(name = label, estimate = diag(psi),
                               std_error = 2 * diag(psi) * se[start + 1:q]))
  low <- lower(q)
  if (nrow(low)) {
    r <- psi[low] / sqrt(diag(psi)[low[, 1]] * diag(psi)[low[, 2]])
    out <- rbind(out, data.frame(name = paste0("cor(", g, ":", names[low[, 2]], ",", names[low[, 1]], ")"),
                                 estimate = r, std_error = (1 - r^2) * se[start + q + seq_len(nrow(low))]))
  }
  if (q == 1 && names[1] == "Intercept") intercepts <- c(intercepts, start + 1)
  start <- start + q + nrow(low)
}
out <- rbind(out, data.frame(name = "var(residual)", estimate = sigma^2,
                             std_error = 2 * sigma^2 * se[length(se)]))
if (length(intercepts) == length(vc)) {            # ICC of every term, logit scale
  v <- sapply(names(vc), function(g) as.matrix(vc[[g]])[1, 1])
  total <- sum(v) + sigma^2
  for (k in seq_along(v)) {
    rest <- total - v[k]
    gradient <- rep(0, length(se))
    gradient[intercepts] <- -2 * v / rest
    gradient[intercepts[k]] <- 2
    gradient[length(se)] <- -2 * sigma^2 / rest
    icc <- v[k] / total
    out <- rbind(out, data.frame(name = paste0("icc(", names(vc)[k], ")"), estimate = icc,
                                 std_error = icc * (1 - icc) * sqrt(drop(t(gradient) %*% cov %*% gradient))))
  }
}
write.csv(out, a[2], row.names = FALSE)
