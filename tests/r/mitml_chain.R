# Reference posterior draws from mitml::jomoImpute for the translation tests.
#
# Usage: Rscript mitml_chain.R data=DATA.csv out=OUT.csv f1="y1 + y2 ~ 1 + x + (1|id)"
#                [f2="g ~ 1 + w"] [random=none|mean] burnin=B iterations=N seed=S
# Runs jomoImpute(data, formula, n.burn = B, n.iter = N, m = 1) and writes the N
# post-burn-in draws of its kept chains, one row per iteration, named as mlimpute's
# ImputationResult.parameter_draws() (continuous responses; "(Intercept)" -> cons).
suppressPackageStartupMessages(library(mitml))
kv <- regmatches(commandArgs(trailingOnly = TRUE), regexpr("=", commandArgs(trailingOnly = TRUE)),
                 invert = TRUE)
opt <- setNames(lapply(kv, `[`, 2), sapply(kv, `[`, 1))
data <- read.csv(opt$data, stringsAsFactors = FALSE)
formula <- if (is.null(opt$f2)) as.formula(opt$f1) else list(as.formula(opt$f1), as.formula(opt$f2))
imp <- jomoImpute(data, formula = formula, random.L1 = if (is.null(opt$random)) "none" else opt$random,
                  n.burn = as.integer(opt$burnin), n.iter = as.integer(opt$iterations), m = 1,
                  seed = as.integer(opt$seed), silent = TRUE)
par <- imp$par.imputation
model <- imp$model
cov <- function(v) sub("(Intercept)", "cons", v, fixed = TRUE)
out <- list()
for (r in seq_along(model$yvrs)) for (a in seq_along(model$pvrs))
  out[[sprintf("beta1[%s,%s]", cov(model$pvrs[a]), model$yvrs[r])]] <- par$beta[a, r, , 1]
if (!is.null(model$yvrs.L2)) for (r in seq_along(model$yvrs.L2)) for (a in seq_along(model$pvrs.L2))
  out[[sprintf("beta2[%s,%s]", cov(model$pvrs.L2[a]), model$yvrs.L2[r])]] <- par$beta2[a, r, , 1]
y <- model$yvrs
for (a in seq_along(y)) for (b in seq_len(a))
  out[[sprintf("omega_e[%s,%s]", y[a], y[b])]] <- par$sigma[a, b, , 1]
ure <- c(as.vector(t(outer(y, cov(model$qvrs), paste, sep = ":"))), model$yvrs.L2)
for (a in seq_along(ure)) for (b in seq_len(a))
  out[[sprintf("omega_u[%s,%s]", ure[a], ure[b])]] <- par$psi[a, b, , 1]
write.csv(as.data.frame(out, check.names = FALSE), opt$out, row.names = FALSE)
