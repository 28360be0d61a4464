# Time jomo's sampler on a CSV: ms per iteration, R start-up and data loading excluded.
# Usage: Rscript jomo_time.R DATA.csv CLUSTER L1RESP L2RESP X1 X2 ITERATIONS SEED
# (comma-separated names, "-" for none; "cons" is added as a column of ones)
suppressPackageStartupMessages(library(jomo))
args <- commandArgs(trailingOnly = TRUE)
data <- read.csv(args[1]); data$cons <- 1
split <- function(s) if (s == "-") character(0) else strsplit(s, ",")[[1]]
l1 <- split(args[3]); l2 <- split(args[4]); x1 <- split(args[5]); x2 <- split(args[6])
iterations <- as.integer(args[7]); set.seed(as.integer(args[8]))
clus <- data[[args[2]]]
Y <- data[, l1, drop = FALSE]; X <- data[, x1, drop = FALSE]
Z <- data.frame(cons = data$cons)
elapsed <- system.time({
  if (length(l2)) {
    jomo2com.MCMCchain(Y.con = Y, Y2.con = data[, l2, drop = FALSE], X = X,
                       X2 = data[, x2, drop = FALSE], Z = Z, clus = clus,
                       nburn = iterations, output = 0)
  } else {
    jomo1rancon.MCMCchain(Y = Y, X = X, Z = Z, clus = clus, nburn = iterations, output = 0)
  }
})[["elapsed"]]
cat(sprintf("%.6f\n", 1000 * elapsed / iterations))
