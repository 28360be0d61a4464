#' Multilevel multiple imputation with the REALCOM-IMPUTE joint model
#'
#' Imputes the missing values of a two-level data set with mlimpute's Gibbs sampler
#' (Python, through reticulate). The imputation model is given the way
#' \code{mitml::jomoImpute} takes it (\code{formula}, a list of a level-1 and a
#' level-2 formula, or \code{type}), as a spec (JSON text, e.g. from
#' \code{mlimpute propose}), or left to mlimpute's default for a \code{cluster}:
#' every partially observed column a response (factors categorical, ordered factors
#' ordinal, two levels binary), every other column a covariate.
#'
#' @param data A data.frame (a tibble is converted).
#' @param formula A formula such as \code{y1 + y2 ~ 1 + x + (1 | school)}, or a list of
#'   two (level 1, level 2), as in \code{mitml::jomoImpute}.
#' @param type An integer vector named by column (or a list of two), mitml's codes.
#' @param cluster Name of the cluster column, for the default model.
#' @param m,burnin,between Number of imputations, burn-in iterations, iterations
#'   between kept imputations.
#' @param seed Integer seed; the same seed gives identical imputations.
#' @param random.L1 \code{"none"} (common level-1 covariance) or \code{"mean"}/\code{"full"}
#'   (one per cluster), as in \code{jomoImpute}.
#' @param responses,covariates,exclude Column names overriding the default model.
#' @param spec A model spec as JSON text.
#' @param chains Independent chains, each with its own burn-in.
#' @param quiet \code{FALSE} shows the sampler's progress.
#' @return An object of class \code{mlimpute}: a list of the \code{m} completed
#'   data.frames, with the original data and the spec used as attributes. It is
#'   accepted by \code{mitml::as.mitml.list()}, converts to \code{mids} with
#'   \code{as.mids()}, and \code{as.data.frame()} gives the long shape (\code{.imp}
#'   0..m, \code{.id}).
#' @examples
#' \dontrun{
#' data(studentratings, package = "mitml")
#' imp <- mlimpute(studentratings, ReadDis + SES ~ 1 + ReadAchiev + (1 | ID), m = 20, seed = 1)
#' fits <- with(mitml::as.mitml.list(imp), lme4::lmer(ReadAchiev ~ ReadDis + (1 | ID)))
#' mitml::testEstimates(fits)
#' }
#' @export
mlimpute <- function(data, formula = NULL, type = NULL, cluster = NULL, m = 20, burnin = 1000,
                     between = 500, seed = NULL, random.L1 = c("none", "mean", "full"),
                     responses = NULL, covariates = NULL, exclude = NULL, spec = NULL,
                     chains = 1, quiet = TRUE) {
  if (!is.data.frame(data)) stop("mlimpute: 'data' must be a data.frame", call. = FALSE)
  random.L1 <- match.arg(random.L1)
  input <- tempfile(fileext = ".rds")
  output <- tempfile(fileext = ".rds")
  on.exit(unlink(c(input, output)))
  saveRDS(as.data.frame(data), input)
  result <- call_python("impute_rds", input, output, cluster = cluster,
                        formula = formula_text(formula), type = type_codes(type),
                        random_L1 = random.L1, responses = responses, covariates = covariates,
                        exclude = exclude, spec = spec, m = m, burnin = burnin,
                        between = between, seed = seed, chains = chains, quiet = quiet)
  new_mlimpute(readRDS(output), result$spec)
}

new_mlimpute <- function(long, spec) {
  columns <- setdiff(names(long), c(".imp", ".id"))
  part <- function(i) {
    d <- long[long$.imp == i, columns, drop = FALSE]
    rownames(d) <- NULL
    d
  }
  structure(lapply(seq_len(max(long$.imp)), part), class = c("mlimpute", "list"),
            long = long, original = part(0), spec = spec)
}

#' The spec an imputation used
#'
#' @param x An \code{mlimpute} object.
#' @return The model spec (JSON text, including the seed) that reproduces \code{x}.
#' @export
mlimpute_spec <- function(x) attr(x, "spec")

#' @export
print.mlimpute <- function(x, ...) {
  original <- attr(x, "original")
  imputed <- names(original)[vapply(original, anyNA, logical(1))]
  cat("mlimpute: ", length(x), " imputations of ", nrow(original), " rows; imputed: ",
      paste(imputed, collapse = ", "), "\n", sep = "")
  invisible(x)
}

#' Long shape of the imputations
#'
#' @param x An \code{mlimpute} object.
#' @param row.names,optional Unused, for the generic.
#' @param ... Unused.
#' @return A data.frame stacking the original data (\code{.imp = 0}) and the completed
#'   data sets, with \code{.imp} and \code{.id}: what \code{mice::as.mids()} reads.
#' @export
as.data.frame.mlimpute <- function(x, row.names = NULL, optional = FALSE, ...) attr(x, "long")
