# Run one peer sampler on a CSV: milliseconds of the call per iteration and, optionally, its
# parameter draws for effective-sample-size comparisons.
# Usage: Rscript peer_run.R tool=jomo|chain|pan data=DATA.csv cluster=NAME l1con=a,b l1cat=c
#                l2con=d l2cat=e x1=cons,x x2=cons iterations=N seed=S [draws=OUT.csv]
#   tool=jomo   jomo::jomo(), the call users make (nburn = N, then 2 imputations 1 apart:
#               its minimum; no draws)
#   tool=chain  jomo's *.MCMCchain function for the same model (what jomo() runs inside)
#   tool=pan    mitml::panImpute (pan), continuous level-1 responses only; n.burn = N
# draws= writes every iteration's parameters, columns named by block: beta[...] (fixed
# effects), omega_u[...] (level-2 covariance) and omega_e[...] (level-1 covariance).
# Names are comma-separated, empty for none; "cons" is a column of ones; categorical
# columns are read as factors.  R start-up and reading the data are not timed.
suppressPackageStartupMessages({ library(jomo); library(mitml) })
kv <- strsplit(commandArgs(trailingOnly = TRUE), "=", fixed = TRUE)
opt <- setNames(lapply(kv, function(p) if (length(p) > 1) p[2] else ""), sapply(kv, `[`, 1))
split <- function(s) if (is.null(s) || s %in% c("", "-")) character(0) else strsplit(s, ",")[[1]]
data <- read.csv(opt$data, na.strings = c("", "NA")); data$cons <- 1
l1con <- split(opt$l1con); l1cat <- split(opt$l1cat); l2con <- split(opt$l2con); l2cat <- split(opt$l2cat)
for (v in c(l1cat, l2cat)) data[[v]] <- factor(data[[v]])
frame <- function(v) if (length(v)) data[, v, drop = FALSE] else NULL
numcat <- function(v) if (length(v)) sapply(v, function(n) nlevels(data[[n]])) else NULL
iterations <- as.integer(opt$iterations); seed <- as.integer(opt$seed); set.seed(seed)
clus <- data[[opt$cluster]]
x1 <- split(opt$x1); x2 <- split(opt$x2)
X <- frame(x1); X2 <- frame(x2); Z <- data.frame(cons = data$cons)
l2 <- length(c(l2con, l2cat)) > 0

run <- function() switch(opt$tool,
  jomo = jomo(Y = frame(c(l1con, l1cat)), Y2 = frame(c(l2con, l2cat)), X = X,
              X2 = if (l2) X2 else NULL, Z = Z, clus = clus, nburn = iterations,
              nbetween = 1, nimp = 2, output = 0),
  chain = if (l2) {
    jomo2com.MCMCchain(Y.con = frame(l1con), Y.cat = frame(l1cat), Y.numcat = numcat(l1cat),
                       Y2.con = frame(l2con), Y2.cat = frame(l2cat), Y2.numcat = numcat(l2cat),
                       X = X, X2 = X2, Z = Z, clus = clus, nburn = iterations, output = 0)
  } else if (length(l1cat)) {
    jomo1ranmix.MCMCchain(Y.con = frame(l1con), Y.cat = frame(l1cat), Y.numcat = numcat(l1cat),
                          X = X, Z = Z, clus = clus, nburn = iterations, output = 0)
  } else {
    jomo1rancon.MCMCchain(Y = frame(l1con), X = X, Z = Z, clus = clus, nburn = iterations, output = 0)
  },
  pan = {
    if (l2 || length(l1cat)) stop("pan takes continuous level-1 responses only")
    rhs <- paste(c(ifelse("cons" %in% x1, "1", "0"), setdiff(x1, "cons")), collapse = " + ")
    form <- as.formula(sprintf("%s ~ %s + (1 | %s)", paste(l1con, collapse = " + "), rhs, opt$cluster))
    panImpute(data, formula = form, n.burn = iterations, n.iter = 1, m = 1,
              keep.chains = "full", seed = seed, silent = TRUE)
  })

elapsed <- system.time(fit <- suppressMessages(capture.output(value <- run())))[["elapsed"]]
fit <- value
if (!is.null(opt$draws) && opt$tool != "jomo") {
  flat <- function(a, name, lower = FALSE) {       # a: [rows, cols, iterations]
    out <- list(); d <- dim(a)
    for (i in seq_len(d[1])) for (j in seq_len(d[2])) {
      if (!lower || j <= i) out[[sprintf("%s[%d,%d]", name, i, j)]] <- a[i, j, ]
    }
    out
  }
  draws <- if (opt$tool == "pan") {
    p <- fit$par.burnin
    c(flat(p$beta[, , , 1, drop = FALSE][, , , 1], "beta"), flat(p$psi[, , , 1], "omega_u", TRUE),
      flat(p$sigma[, , , 1], "omega_e", TRUE))
  } else {
    c(flat(fit$collectbeta, "beta"),
      if (!is.null(fit[["collect.l2.beta"]])) flat(fit[["collect.l2.beta"]], "beta2"),
      flat(fit$collectcovu, "omega_u", TRUE), flat(fit$collectomega, "omega_e", TRUE))
  }
  write.csv(as.data.frame(draws, check.names = FALSE), opt$draws, row.names = FALSE)
}
cat(sprintf("%.6f\n", 1000 * elapsed / iterations))
