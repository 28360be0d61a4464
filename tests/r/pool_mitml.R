# Reference pooled results from mitml::testEstimates for given per-imputation estimates.
# Usage: Rscript pool_mitml.R IN.csv OUT.csv DFCOM
#   IN.csv: columns q_<name> and u_<name>, one row per imputation; DFCOM "Inf" or a number.
suppressPackageStartupMessages(library(mitml))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], check.names = FALSE)
qcols <- grep("^q_", names(d), value = TRUE)
qhat <- t(as.matrix(d[, qcols, drop = FALSE]))
uhat <- t(as.matrix(d[, sub("^q_", "u_", qcols), drop = FALSE]))
rownames(qhat) <- rownames(uhat) <- sub("^q_", "", qcols)
dfcom <- if (args[3] == "Inf") NULL else as.numeric(args[3])
res <- testEstimates(qhat = qhat, uhat = uhat, df.com = dfcom)$estimates
out <- data.frame(name = rownames(res), estimate = res[, "Estimate"], std_error = res[, "Std.Error"],
                  t = res[, "t.value"], df = res[, "df"], p_value = res[, "P(>|t|)"],
                  riv = res[, "RIV"], fmi = res[, "FMI"])
write.csv(out, args[2], row.names = FALSE)
