# Reference posterior draws from R's jomo for the comparison tests.
#
# Usage: Rscript jomo_chain.R data=DATA.csv out=OUT.csv cluster=NAME l1con=a,b l1cat=c,d
#                l2con=e l2cat=f x1=cons,x x2=cons,w z=cons iterations=N seed=S [hr=1]
#   Lists are comma-separated column names ("" or "-" for none); "cons" is a column of
#   ones.  Categorical columns are read as factors (first level the reference).
#   hr=1 asks for cluster-specific level-1 covariance matrices (jomo1ranconhr);
#   clusters_out=FILE then also writes each cluster's posterior mean matrix over the
#   iterations after burnin=B.
# Writes one row per iteration, columns named as mlimpute's
# ImputationResult.parameter_draws(): beta1[cov,resp], beta2[cov,resp], omega_e[r,s]
# and omega_u[a,b] (lower triangles); a categorical response's latents are resp.1,
# resp.2, ...; a two-category one (binary) is named resp; random effects resp:zcov.
suppressPackageStartupMessages(library(jomo))
kv <- strsplit(commandArgs(trailingOnly = TRUE), "=", fixed = TRUE)
opt <- setNames(lapply(kv, function(p) if (length(p) > 1) p[2] else ""), sapply(kv, `[`, 1))
split <- function(s) if (is.null(s) || s %in% c("", "-")) character(0) else strsplit(s, ",")[[1]]
data <- read.csv(opt$data, stringsAsFactors = FALSE, na.strings = c("", "NA"))
data$cons <- 1
l1con <- split(opt$l1con); l1cat <- split(opt$l1cat)
l2con <- split(opt$l2con); l2cat <- split(opt$l2cat)
x1 <- split(opt$x1); x2 <- split(opt$x2); z <- split(opt$z)
for (v in c(l1cat, l2cat)) data[[v]] <- factor(data[[v]])
set.seed(as.integer(opt$seed))
niter <- as.integer(opt$iterations)
clus <- data[[opt$cluster]]
frame <- function(v) if (length(v)) data[, v, drop = FALSE] else NULL
numcat <- function(v) if (length(v)) sapply(v, function(n) nlevels(data[[n]])) else NULL
X <- frame(x1); Z <- frame(z)

if (length(c(l2con, l2cat))) {
  fit <- jomo2com.MCMCchain(Y.con = frame(l1con), Y.cat = frame(l1cat), Y.numcat = numcat(l1cat),
                            Y2.con = frame(l2con), Y2.cat = frame(l2cat), Y2.numcat = numcat(l2cat),
                            X = X, X2 = frame(x2), Z = Z, clus = clus, nburn = niter, output = 0)
  beta2 <- fit$collect.l2.beta
} else if (length(l1cat)) {
  fit <- jomo1ranmix.MCMCchain(Y.con = frame(l1con), Y.cat = frame(l1cat), Y.numcat = numcat(l1cat),
                               X = X, Z = Z, clus = clus, nburn = niter, output = 0)
  beta2 <- NULL
} else if (!is.null(opt$hr) && opt$hr == "1") {
  fit <- jomo1ranconhr.MCMCchain(Y = frame(l1con), X = X, Z = Z, clus = clus, nburn = niter, output = 0)
  beta2 <- NULL
} else {
  fit <- jomo1rancon.MCMCchain(Y = frame(l1con), X = X, Z = Z, clus = clus, nburn = niter, output = 0)
  beta2 <- NULL
}
working <- function(con, cat) {
  labels <- con
  for (v in cat) {
    k <- nlevels(data[[v]])
    labels <- c(labels, if (k == 2) v else paste0(v, ".", seq_len(k - 1)))
  }
  labels
}
w1 <- working(l1con, l1cat); w2 <- working(l2con, l2cat)
out <- list()
for (r in seq_along(w1)) for (a in seq_along(x1))
  out[[sprintf("beta1[%s,%s]", x1[a], w1[r])]] <- fit$collectbeta[a, r, ]
if (!is.null(beta2)) for (r in seq_along(w2)) for (a in seq_along(x2))
  out[[sprintf("beta2[%s,%s]", x2[a], w2[r])]] <- beta2[a, r, ]
omega <- fit$collectomega
if (length(dim(omega)) == 3 && dim(omega)[1] == length(w1)) {
  for (a in seq_along(w1)) for (b in seq_len(a))
    out[[sprintf("omega_e[%s,%s]", w1[a], w1[b])]] <- omega[a, b, ]
} else if (length(dim(omega)) == 3) {
  # cluster-specific matrices, rows cluster-major (cluster c, response a at (c-1)*p + a):
  # report their average over clusters, as mlimpute's omega_e does
  p <- length(w1); nclus <- dim(omega)[1] / p
  for (a in seq_along(w1)) for (b in seq_len(a))
    out[[sprintf("omega_e[%s,%s]", w1[a], w1[b])]] <-
      colMeans(matrix(omega[(seq_len(nclus) - 1) * p + a, b, ], nrow = nclus))
  if (!is.null(opt$clusters_out)) {
    # posterior means of each cluster's matrix, clusters in factor-level order
    keep <- seq_len(dim(omega)[3]) > as.integer(if (is.null(opt$burnin)) 0 else opt$burnin)
    means <- apply(omega[, , keep, drop = FALSE], c(1, 2), mean)
    cols <- list()
    for (a in seq_along(w1)) for (b in seq_len(a))
      cols[[sprintf("omega_e[%s,%s]", w1[a], w1[b])]] <- means[(seq_len(nclus) - 1) * p + a, b]
    write.csv(data.frame(cluster = levels(factor(clus)), cols, check.names = FALSE),
              opt$clusters_out, row.names = FALSE)
  }
}
ure <- c(as.vector(t(outer(w1, z, paste, sep = ":"))), w2)
for (a in seq_along(ure)) for (b in seq_len(a))
  out[[sprintf("omega_u[%s,%s]", ure[a], ure[b])]] <- fit$collectcovu[a, b, ]
write.csv(as.data.frame(out, check.names = FALSE), opt$out, row.names = FALSE)
