# Characteristics of a .dta file as R's readstata13 reads them (an independent reader).
# Usage: Rscript dta_characteristics.R FILE.dta OUT.csv
suppressPackageStartupMessages(library(readstata13))
a <- commandArgs(trailingOnly = TRUE)
d <- read.dta13(a[1], convert.factors = FALSE)
ef <- attr(d, "expansion.fields")
out <- data.frame(variable = sapply(ef, `[`, 1), name = sapply(ef, `[`, 2),
                  contents = sapply(ef, `[`, 3), rows = nrow(d))
write.csv(out, a[2], row.names = FALSE)
