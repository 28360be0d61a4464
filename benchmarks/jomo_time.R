# Time jomo's sampler on a CSV: ms per iteration, R start-up and data loading excluded.
# Usage: Rscript jomo_time.R data=DATA.csv cluster=NAME l1con=a,b l1cat=c l2con=d l2cat=e
#                x1=cons,x x2=cons iterations=N seed=S [draws=OUT.csv]
# draws= also writes every iteration's level-1 and level-2 covariance matrices (lower
# triangles, columns omega[i,j] and covu[i,j]) for effective-sample-size comparisons.
# (comma-separated names, empty for none; "cons" is a column of ones; categorical
# columns are read as factors)
suppressPackageStartupMessages(library(jomo))
kv <- strsplit(commandArgs(trailingOnly = TRUE), "=", fixed = TRUE)
opt <- setNames(lapply(kv, function(p) if (length(p) > 1) p[2] else ""), sapply(kv, `[`, 1))
split <- function(s) if (is.null(s) || s %in% c("", "-")) character(0) else strsplit(s, ",")[[1]]
data <- read.csv(opt$data, na.strings = c("", "NA")); data$cons <- 1
l1con <- split(opt$l1con); l1cat <- split(opt$l1cat); l2con <- split(opt$l2con); l2cat <- split(opt$l2cat)
for (v in c(l1cat, l2cat)) data[[v]] <- factor(data[[v]])
frame <- function(v) if (length(v)) data[, v, drop = FALSE] else NULL
numcat <- function(v) if (length(v)) sapply(v, function(n) nlevels(data[[n]])) else NULL
iterations <- as.integer(opt$iterations); set.seed(as.integer(opt$seed))
clus <- data[[opt$cluster]]
X <- frame(split(opt$x1)); Z <- data.frame(cons = data$cons)
elapsed <- system.time(fit <- {
  if (length(c(l2con, l2cat))) {
    jomo2com.MCMCchain(Y.con = frame(l1con), Y.cat = frame(l1cat), Y.numcat = numcat(l1cat),
                       Y2.con = frame(l2con), Y2.cat = frame(l2cat), Y2.numcat = numcat(l2cat),
                       X = X, X2 = frame(split(opt$x2)), Z = Z, clus = clus,
                       nburn = iterations, output = 0)
  } else if (length(l1cat)) {
    jomo1ranmix.MCMCchain(Y.con = frame(l1con), Y.cat = frame(l1cat), Y.numcat = numcat(l1cat),
                          X = X, Z = Z, clus = clus, nburn = iterations, output = 0)
  } else {
    jomo1rancon.MCMCchain(Y = frame(l1con), X = X, Z = Z, clus = clus, nburn = iterations, output = 0)
  }
})[["elapsed"]]
if (!is.null(opt$draws)) {
  lower <- function(a, name) {
    d <- dim(a)[1]; out <- list()
    for (i in seq_len(d)) for (j in seq_len(i)) out[[sprintf("%s[%d,%d]", name, i, j)]] <- a[i, j, ]
    out
  }
  write.csv(as.data.frame(c(lower(fit$collectomega, "omega"), lower(fit$collectcovu, "covu")),
                          check.names = FALSE), opt$draws, row.names = FALSE)
}
cat(sprintf("%.6f\n", 1000 * elapsed / iterations))
