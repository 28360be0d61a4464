# R's side of the .rds/.RData tests.
# Usage: Rscript rdata_files.R make DIR      -> writes R-made files into DIR
#        Rscript rdata_files.R describe FILE OUT.csv  -> one row per column of the data frame
a <- commandArgs(trailingOnly = TRUE)
if (a[1] == "make") {
  d <- data.frame(
    cluster = c(1L, 1L, 2L, 2L, 3L),
    score = c(1.5, NA, -2.25, 3, 1e6),
    count = c(1L, NA, 3L, 4L, 5L),
    group = factor(c("a", NA, "b", "b", "a"), levels = c("a", "b", "unused")),
    grade = factor(c("low", "high", NA, "mid", "low"), levels = c("low", "mid", "high"), ordered = TRUE),
    flag = c(TRUE, NA, FALSE, TRUE, FALSE),
    name = c("x", "y", NA, "\u00e9t\u00e9", "z"),
    stringsAsFactors = FALSE)
  d$sex <- structure(c(1, 2, NA, 2, 1), labels = c(boy = 1, girl = 2), label = "Pupil sex",
                     class = c("haven_labelled", "vctrs_vctr", "double"))
  saveRDS(d, file.path(a[2], "types.rds"))
  other <- 1:3
  save(d, other, file = file.path(a[2], "types.RData"))
  d2 <- d
  save(d, d2, file = file.path(a[2], "two.RData"))
  saveRDS(list(a = 1), file.path(a[2], "list.rds"))
  e <- d[, 1:2]; e$when <- as.Date("2020-01-01") + c(0:3, NA)
  e$at <- as.POSIXct("2021-03-01 08:00:00", tz = "UTC") + c(0, 3600, NA, 7200, 60)
  saveRDS(e, file.path(a[2], "date.rds"))
  g <- d[, 1:2]; g$gap <- as.difftime(1:5, units = "days")
  saveRDS(g, file.path(a[2], "difftime.rds"))
  l <- d[, 1:2]; l$items <- I(lapply(1:5, function(i) i))
  saveRDS(l, file.path(a[2], "listcol.rds"))
} else {
  d <- if (grepl("\\.rds$", a[2], ignore.case = TRUE)) readRDS(a[2]) else {
    env <- new.env(); load(a[2], envir = env); stopifnot(length(ls(env)) == 1); get(ls(env), env)
  }
  stopifnot(is.data.frame(d))
  out <- do.call(rbind, lapply(names(d), function(n) {
    v <- d[[n]]
    data.frame(column = n, class = paste(class(v), collapse = " "), type = typeof(v),
               levels = if (is.factor(v)) paste(levels(v), collapse = "|") else "",
               na = paste(which(is.na(v)), collapse = " "),
               values = paste(ifelse(is.na(v), "NA", as.character(v)), collapse = "|"))
  }))
  write.csv(out, a[3], row.names = FALSE, fileEncoding = "UTF-8")
}
