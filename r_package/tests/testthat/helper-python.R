# The tests need the Python side. Locally they are skipped without it; in CI (CI=true)
# a missing Python side is a failure, not a skip.
need_python <- function() {
  ok <- tryCatch({ mlimpute_python(); TRUE }, error = function(e) conditionMessage(e))
  if (isTRUE(ok)) return(invisible(TRUE))
  if (identical(Sys.getenv("CI"), "true")) stop(ok)
  testthat::skip(ok)
}

ratings <- function() {
  data("studentratings", package = "mitml", envir = environment())
  d <- studentratings[studentratings$ID %in% unique(studentratings$ID)[1:40],
                      c("ID", "Sex", "ReadAchiev", "ReadDis", "SES")]
  rownames(d) <- NULL
  d
}
