# Reference posterior draws of the model of interest from R's jomo.lmer.MCMCchain
# (normal outcome) or jomo.glmer.MCMCchain (binary outcome: a probit with latent variance
# 1), substantive-model-compatible imputation, for the comparison tests and benchmarks.
#
# Usage: Rscript jomo_smc_chain.R data=DATA.csv out=OUT.csv formula="y ~ x + (1 + x | g)"
#                columns=y,x,z,g iterations=N seed=S [family=gaussian|binomial] [time=1]
#   columns: the data columns jomo sees (outcome, covariates, grouping); every covariate
#   is a level-1 response of jomo's covariate model, as jomo.lmer/jomo.glmer build it.
# Writes one row per iteration with mlimpute's names: model.beta[term] (lme4's fixed-effect
# names, "(Intercept)" as "Intercept"), model.sigma2 (gaussian only) and
# model.omega_b[a,b] (lower triangle).
# priors=FILE also writes the priors jomo used: a complete-case lmer (gaussian) or logit
# glmer (binomial: jomo takes its scale as is) fit's residual variance (NA for binomial),
# then its Omega_b by column.
# With time=1 it writes instead the seconds of two runs (N/2 and N iterations), one line.
suppressPackageStartupMessages({library(jomo); library(lme4)})
kv <- strsplit(commandArgs(trailingOnly = TRUE), "=", fixed = TRUE)
opt <- setNames(lapply(kv, function(p) if (length(p) > 1) paste(p[-1], collapse = "=") else ""),
                sapply(kv, `[`, 1))
data <- read.csv(opt$data)
data <- data[, strsplit(opt$columns, ",")[[1]]]
formula <- as.formula(opt$formula)
niter <- as.integer(opt$iterations)
is_binary <- !is.null(opt$family) && opt$family == "binomial"
set.seed(as.integer(opt$seed))
chain <- function(n) {
  if (is_binary) jomo.glmer.MCMCchain(formula, data, nburn = n, output = 0, family = "binomial")
  else jomo.lmer.MCMCchain(formula, data, nburn = n, output = 0)
}
complete_case <- function() {
  if (is_binary) glmer(formula, data = data, family = binomial, na.action = na.omit)
  else lmer(formula, data = data, na.action = na.omit)
}
if (!is.null(opt$time) && opt$time == "1") {
  seconds <- sapply(c(niter %/% 2, niter), function(n)
    system.time(suppressMessages(capture.output(fit <- chain(n))))[["elapsed"]])
  writeLines(paste(seconds, collapse = ","), opt$out)
  quit(save = "no")
}
invisible(capture.output(fit <- suppressMessages(chain(niter))))
cc <- complete_case()
fixed <- names(fixef(cc))
fixed[fixed == "(Intercept)"] <- "Intercept"
random <- colnames(VarCorr(cc)[[1]])
random[random == "(Intercept)"] <- "Intercept"
out <- list()
for (k in seq_along(fixed)) out[[sprintf("model.beta[%s]", fixed[k])]] <- fit$collectbetaY[1, k, ]
if (!is_binary) out[["model.sigma2"]] <- as.numeric(fit$collectvarY)
for (a in seq_along(random)) for (b in seq_len(a))
  out[[sprintf("model.omega_b[%s,%s]", random[a], random[b])]] <- fit$collectcovuY[a, b, ]
write.csv(as.data.frame(out, check.names = FALSE), opt$out, row.names = FALSE)
if (!is.null(opt$priors)) {
  vc <- VarCorr(cc)[[1]]
  sigma2 <- if (is_binary) NA else summary(cc)$sigma^2
  write.csv(data.frame(sigma2 = sigma2, t(as.vector(vc[seq_along(random), seq_along(random)]))),
            opt$priors, row.names = FALSE)
}
