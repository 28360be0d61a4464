# Binary-response GLM fit in R as a reference for mlimpute.analysis.fit (family logit/probit).
# Usage: Rscript glm_fit.R DATA.csv OUT.csv FORMULA LINK   (response: second level = 1)
a <- commandArgs(trailingOnly = TRUE)
d <- read.csv(a[1], na.strings = c("", "NA"), stringsAsFactors = TRUE)
f <- as.formula(a[3]); y <- all.vars(f)[1]
d[[y]] <- as.integer(d[[y]] == levels(factor(d[[y]]))[2])
co <- summary(glm(f, data = d, family = binomial(link = a[4])))$coefficients
write.csv(data.frame(name = sub("\\(Intercept\\)", "Intercept", rownames(co)), estimate = co[, 1],
                     std_error = co[, 2]), a[2], row.names = FALSE)
