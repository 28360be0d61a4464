#' Convert imputations to a mice mids object
#'
#' \code{mice::as.mids} reads the long shape; this generic also accepts an
#' \code{mlimpute} object, and passes anything else to \code{mice::as.mids}.
#' (\code{mitml::as.mitml.list()} accepts an \code{mlimpute} object as it is.)
#'
#' @param long An \code{mlimpute} object, or a long data.frame for \code{mice::as.mids}.
#' @param ... Passed to \code{mice::as.mids}.
#' @return A \code{mids} object.
#' @examples
#' \dontrun{
#' imp <- mlimpute(studentratings, ReadDis + SES ~ 1 + ReadAchiev + (1 | ID), seed = 1)
#' mice::pool(with(as.mids(imp), lm(ReadAchiev ~ ReadDis)))
#' }
#' @export
as.mids <- function(long, ...) UseMethod("as.mids")

#' @rdname as.mids
#' @export
as.mids.mlimpute <- function(long, ...) mice_as_mids(attr(long, "long"), ...)

#' @rdname as.mids
#' @export
as.mids.default <- function(long, ...) mice_as_mids(long, ...)

mice_as_mids <- function(long, ...) {
  if (!requireNamespace("mice", quietly = TRUE)) {
    stop("mlimpute: as.mids needs the 'mice' package", call. = FALSE)
  }
  mice::as.mids(long, ...)
}
