#' Fit a model to every imputation and pool, on the Python side
#'
#' Fits a linear mixed model (\code{y ~ x + (1 | cluster)}, REML by default) or a
#' linear model to each completed data set with statsmodels and pools the fixed effects
#' with Rubin's rules (Barnard-Rubin degrees of freedom); variance components are
#' averaged. For lme4 fits pooled by mitml use \code{mitml::as.mitml.list()} instead.
#'
#' @param x An \code{mlimpute} object.
#' @param formula The model of interest.
#' @param reml Restricted maximum likelihood (\code{TRUE}) or maximum likelihood.
#' @param family \code{"gaussian"}, \code{"logit"} or \code{"probit"}.
#' @return A data.frame: term, estimate, std_error, df, t, p_value, ci_lower, ci_upper,
#'   riv, lambda, fmi.
#' @export
mlimpute_pool <- function(x, formula, reml = TRUE, family = c("gaussian", "logit", "probit")) {
  if (!inherits(x, "mlimpute")) stop("mlimpute: 'x' must be an mlimpute object", call. = FALSE)
  family <- match.arg(family)
  stacked <- tempfile(fileext = ".rds")
  table <- tempfile(fileext = ".csv")
  on.exit(unlink(c(stacked, table)))
  saveRDS(attr(x, "long"), stacked)
  call_python("pool_rds", stacked, formula_text(formula), table, reml = reml, family = family)
  pooled <- utils::read.csv(table, stringsAsFactors = FALSE)
  pooled$term[pooled$term == "Intercept"] <- "(Intercept)"
  pooled
}
