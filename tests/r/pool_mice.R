# Reference pooled scalar from mice::pool.scalar (Rubin's rules, Barnard-Rubin df).
# Usage: Rscript pool_mice.R IN.csv OUT.csv N K   (IN.csv: columns q, u; df.com = N - K)
a <- commandArgs(trailingOnly = TRUE)
d <- read.csv(a[1])
r <- mice::pool.scalar(d$q, d$u, n = as.numeric(a[3]), k = as.numeric(a[4]))
write.csv(data.frame(estimate = r$qbar, variance = r$t, df = r$df, riv = r$r, fmi = r$fmi),
          a[2], row.names = FALSE)
