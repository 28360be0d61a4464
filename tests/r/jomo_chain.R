# Reference posterior draws from R's jomo for the comparison tests.
#
# Usage: Rscript jomo_chain.R DATA.csv OUT.csv CLUSTER L1RESP L2RESP X1 X2 Z NITER SEED
#   L1RESP, L2RESP, X1, X2, Z: comma-separated column names ("-" for none); X1/X2 may
#   contain "cons" for the intercept (a column of ones is added), Z likewise.
# Writes one row per iteration, columns named as mlimpute's
# ImputationResult.parameter_draws(): beta1[cov,resp], beta2[cov,resp],
# omega_e[r,s] and omega_u[a,b] (lower triangles), random effects named resp:zcov.
suppressPackageStartupMessages(library(jomo))
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 10) stop("expected 10 arguments, see the header of jomo_chain.R")
data <- read.csv(args[1])
split <- function(s) if (s == "-") character(0) else strsplit(s, ",")[[1]]
cluster <- args[3]; l1 <- split(args[4]); l2 <- split(args[5])
x1 <- split(args[6]); x2 <- split(args[7]); z <- split(args[8])
niter <- as.integer(args[9]); set.seed(as.integer(args[10]))
data$cons <- 1
clus <- data[[cluster]]
Y <- data[, l1, drop = FALSE]
X <- data[, x1, drop = FALSE]
Z <- data[, z, drop = FALSE]

if (length(l2)) {
  fit <- jomo2com.MCMCchain(Y.con = Y, Y2.con = data[, l2, drop = FALSE], X = X,
                            X2 = data[, x2, drop = FALSE], Z = Z, clus = clus,
                            nburn = niter, output = 0)
  beta2 <- fit$collect.l2.beta
} else {
  fit <- jomo1rancon.MCMCchain(Y = Y, X = X, Z = Z, clus = clus, nburn = niter, output = 0)
  beta2 <- NULL
}
out <- list()
for (r in seq_along(l1)) for (a in seq_along(x1))
  out[[sprintf("beta1[%s,%s]", x1[a], l1[r])]] <- fit$collectbeta[a, r, ]
if (!is.null(beta2)) for (r in seq_along(l2)) for (a in seq_along(x2))
  out[[sprintf("beta2[%s,%s]", x2[a], l2[r])]] <- beta2[a, r, ]
for (a in seq_along(l1)) for (b in seq_len(a))
  out[[sprintf("omega_e[%s,%s]", l1[a], l1[b])]] <- fit$collectomega[a, b, ]
ure <- c(as.vector(t(outer(l1, z, paste, sep = ":"))), l2)
for (a in seq_along(ure)) for (b in seq_len(a))
  out[[sprintf("omega_u[%s,%s]", ure[a], ure[b])]] <- fit$collectcovu[a, b, ]
write.csv(as.data.frame(out, check.names = FALSE), args[2], row.names = FALSE)
