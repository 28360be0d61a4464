# Reference posterior draws of the model of interest from R's jomo.lmer.MCMCchain
# (substantive-model-compatible imputation), for the comparison tests.
#
# Usage: Rscript jomo_lmer_chain.R data=DATA.csv out=OUT.csv formula="y ~ x + (1 + x | g)"
#                columns=y,x,z,g iterations=N seed=S [time=1]
#   columns: the data columns jomo.lmer sees (outcome, covariates, grouping); every
#   covariate is a level-1 response of jomo's covariate model, as jomo.lmer builds it.
# Writes one row per iteration with mlimpute's names: model.beta[term] (lme4's fixed-effect
# names, "(Intercept)" as "Intercept"), model.sigma2 and model.omega_b[a,b] (lower triangle).
# priors=FILE also writes the priors jomo.lmer used (sigma2, then Omega_b by column).
# With time=1 it writes instead the seconds of two runs (N/2 and N iterations), one line.
suppressPackageStartupMessages({library(jomo); library(lme4)})
kv <- strsplit(commandArgs(trailingOnly = TRUE), "=", fixed = TRUE)
opt <- setNames(lapply(kv, function(p) if (length(p) > 1) paste(p[-1], collapse = "=") else ""),
                sapply(kv, `[`, 1))
data <- read.csv(opt$data)
data <- data[, strsplit(opt$columns, ",")[[1]]]
formula <- as.formula(opt$formula)
niter <- as.integer(opt$iterations)
set.seed(as.integer(opt$seed))
run <- function(n) suppressMessages(capture.output(
  fit <- jomo.lmer.MCMCchain(formula, data, nburn = n, output = 0)))
if (!is.null(opt$time) && opt$time == "1") {
  seconds <- sapply(c(niter %/% 2, niter), function(n) system.time(run(n))[["elapsed"]])
  writeLines(paste(seconds, collapse = ","), opt$out)
  quit(save = "no")
}
invisible(capture.output(fit <- jomo.lmer.MCMCchain(formula, data, nburn = niter, output = 0)))
fixed <- names(fixef(lmer(formula, data = data)))
fixed[fixed == "(Intercept)"] <- "Intercept"
random <- colnames(VarCorr(lmer(formula, data = data))[[1]])
random[random == "(Intercept)"] <- "Intercept"
out <- list()
for (k in seq_along(fixed)) out[[sprintf("model.beta[%s]", fixed[k])]] <- fit$collectbetaY[1, k, ]
out[["model.sigma2"]] <- as.numeric(fit$collectvarY)
for (a in seq_along(random)) for (b in seq_len(a))
  out[[sprintf("model.omega_b[%s,%s]", random[a], random[b])]] <- fit$collectcovuY[a, b, ]
write.csv(as.data.frame(out, check.names = FALSE), opt$out, row.names = FALSE)
# the priors jomo.lmer used: a complete-case lmer fit's Omega_b (df q) and sigma2 (df 1)
if (!is.null(opt$priors)) {
  cc <- lmer(formula, data = data, na.action = na.omit)
  vc <- VarCorr(cc)[[1]]
  write.csv(data.frame(sigma2 = summary(cc)$sigma^2, t(as.vector(vc[seq_along(random), seq_along(random)]))),
            opt$priors, row.names = FALSE)
}
