# Reference D1/D2 statistics from mitml's internal pooling functions (.D1, .D2), which
# testModels() and testConstraints() use.
# Usage: Rscript pool_wald.R Q.csv U.csv D.csv OUT.csv DFCOM
#   Q.csv: M rows x k estimates; U.csv: M*k rows x k (stacked covariance matrices);
#   D.csv: one column of M chi-square statistics; DFCOM "Inf" or a number.
a <- commandArgs(trailingOnly = TRUE)
Q <- t(as.matrix(read.csv(a[1])))                  # k x M as mitml expects
U <- as.matrix(read.csv(a[2]))
k <- nrow(Q); m <- ncol(Q)
Uarr <- array(NA, c(k, k, m))
for (i in seq_len(m)) Uarr[, , i] <- U[((i - 1) * k + 1):(i * k), ]
dfcom <- if (a[5] == "Inf") NULL else as.numeric(a[5])
d1 <- mitml:::.D1(Q, Uarr, dfcom)
d2 <- mitml:::.D2(read.csv(a[3])[[1]], k)
out <- data.frame(method = c("D1", "D2"), F = c(d1$F, d2$F), df2 = c(d1$v, d2$v), riv = c(d1$r, d2$r))
write.csv(out, a[4], row.names = FALSE)
