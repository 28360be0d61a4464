#' Fit a model to every imputation and pool, on the Python side
#'
#' Fits a linear mixed model (\code{y ~ x + (1 | cluster)}, REML by default) or a
#' linear model to each completed data set with statsmodels and pools the fixed effects
#' with Rubin's rules (Barnard-Rubin degrees of freedom). Variance components
#' (\code{var(...)}, \code{cor(...)}, \code{icc(...)}) get standard errors from the
#' Hessian of the REML likelihood and are pooled on the log-SD, Fisher-z and logit
#' scales, transformed back. For lme4 fits pooled by mitml use
#' \code{mitml::as.mitml.list()} instead.
#'
#' @param x An \code{mlimpute} object.
#' @param formula The model of interest; by default the one the imputation was
#'   compatible with (\code{mlimpute(..., model = )}).
#' @param reml Restricted maximum likelihood (\code{TRUE}) or maximum likelihood.
#' @param family \code{"gaussian"}, \code{"logit"} or \code{"probit"}; \code{NULL}
#'   (default) pools the model of interest the imputation was compatible with in its
#'   own family (a binary outcome imputed by a probit model is pooled as a probit
#'   model), any other model as gaussian.
#' @param force \code{TRUE} pools imputations that fail the checks (completed data
#'   sets with missing values, observed values that differ, unequal rows), e.g. long
#'   data assembled elsewhere.
#' @param se_cv Coefficient of variation of the standard errors to aim for: the
#'   attribute \code{m_needed} is the number of imputations that reaches it (von
#'   Hippel 2020).
#' @param df.com Complete-data degrees of freedom (as mitml's \code{df.com}): the
#'   Barnard-Rubin df of the coefficients and Reiter's df of \code{test}; \code{NULL}
#'   (default) for infinite.
#' @param test Linear hypotheses about the fixed effects, named as the table names them,
#'   e.g. \code{"G.SES - I.SES = 0"} or \code{c("x1 = 0", "x2 = 0")} (tested jointly):
#'   the D1 Wald test, as \code{mitml::testConstraints()}, in the attribute \code{test}.
#' @return A data.frame: term, estimate, std_error, df, t, p_value, ci_lower, ci_upper,
#'   riv, lambda, fmi; attribute \code{m_needed}, and \code{test} (F, df1, df2, p_value,
#'   riv) when \code{test} is given.
#' @export
mlimpute_pool <- function(x, formula = NULL, reml = TRUE, family = NULL, se_cv = 0.05,
                          force = FALSE, df.com = NULL, test = NULL) {
  if (!inherits(x, "mlimpute")) stop("mlimpute: 'x' must be an mlimpute object", call. = FALSE)
  if (!is.null(family)) check_choice(family, "family", c("gaussian", "logit", "probit"))
  check_flag(reml, "reml")
  check_flag(force, "force")
  check_number(se_cv, "se_cv", 0, 1)
  check_number(df.com, "df.com", 0, Inf)
  if (!is.null(test) && !(is.character(test) && length(test) >= 1L && !anyNA(test) &&
                          all(nzchar(trimws(test))))) {
    stop("mlimpute: 'test' must be hypotheses as text, e.g. \"x1 - x2 = 0\", got ",
         shown(test), call. = FALSE)
  }
  if (is.null(formula)) {
    formula <- call_python("spec_model", attr(x, "spec"))$formula
    if (is.null(formula)) {
      stop("mlimpute: give the formula (the imputation had no model of interest)", call. = FALSE)
    }
  }
  stacked <- tempfile(fileext = ".rds")
  table <- tempfile(fileext = ".csv")
  on.exit(unlink(c(stacked, table)))
  saveRDS(attr(x, "long"), stacked)
  result <- call_python("pool_rds", stacked, formula_text(formula), table, reml = reml,
                        family = family, se_cv = se_cv, spec = attr(x, "spec"),
                        force = isTRUE(force), df_com = df.com,
                        test = if (is.null(test)) NULL else as.list(test),
                        .files = stats::setNames("imputations", stacked))
  pooled <- utils::read.csv(table, stringsAsFactors = FALSE)
  pooled$term[pooled$term == "Intercept"] <- "(Intercept)"
  attr(pooled, "m_needed") <- result$m_needed
  if (!is.null(result$test)) attr(pooled, "test") <- unlist(result$test)
  pooled
}

#' Sensitivity to missing not at random: pooled estimates over a grid of deltas
#'
#' For each shift in \code{deltas}, the imputed values of \code{response} (its latent
#' probit index for a binary or ordinal response) are shifted by delta, optionally only
#' where \code{where} holds, the model of interest is fitted to every completed data set
#' and pooled (Carpenter & Kenward 2013, ch. 10). Every delta uses the same seed and
#' settings, so delta = 0 is the MAR analysis and the estimates differ only by the shift.
#'
#' @param data A data.frame.
#' @param response The response whose imputed values are shifted.
#' @param deltas Numeric vector of shifts, e.g. \code{c(-0.5, -0.25, 0, 0.25, 0.5)}.
#' @param model The model of interest, e.g. \code{y ~ x + (1 | school)}.
#' @param m Number of imputations per delta (as for \code{mlimpute()}).
#' @param where Optional condition (text) such as \code{"girl == 1"}.
#' @param ... The imputation model and settings, as for \code{mlimpute()}
#'   (\code{formula}, \code{type}, \code{cluster}, \code{burnin}, \code{seed}, ...).
#' @param quiet \code{FALSE} shows the sampler's progress.
#' @return A data.frame: delta, term, estimate, std_error, ci_lower, ci_upper, p_value, fmi.
#' @export
mlimpute_sensitivity <- function(data, response, deltas, model, m = NULL, ..., where = NULL,
                                 quiet = TRUE) {
  # m is a formal so that it is never taken, partially matched, for `model`
  name <- paste(deparse(substitute(data), width.cutoff = 60L)[1], collapse = "")
  if (!is.data.frame(data)) stop("mlimpute: 'data' must be a data.frame", call. = FALSE)
  check_names(response, "response", one = TRUE)
  if (!(is.numeric(deltas) && length(deltas) >= 1L && !anyNA(deltas) && all(is.finite(deltas)))) {
    stop("mlimpute: 'deltas' must be finite numbers, got ", shown(deltas), call. = FALSE)
  }
  if (anyDuplicated(deltas)) {
    stop("mlimpute: 'deltas' gives ", deltas[anyDuplicated(deltas)], " twice; give each shift once",
         call. = FALSE)
  }
  settings <- c(list(m = m), list(...))
  do.call(check_settings, c(settings[intersect(names(settings), names(formals(check_settings)))],
                            list(quiet = quiet)))
  if (!is.null(settings$formula)) settings$formula <- formula_text(settings$formula)
  if (!is.null(settings$type)) settings$type <- type_codes(settings$type)
  if (!is.null(settings$random.L1)) {
    settings$random_L1 <- settings$random.L1
    settings$random.L1 <- NULL
  }
  input <- tempfile(fileext = ".rds")
  table <- tempfile(fileext = ".csv")
  on.exit(unlink(c(input, table)))
  saveRDS(as.data.frame(data), input)
  do.call(call_python, c(list("sensitivity_rds", input, table, response = response,
                              deltas = as.list(as.numeric(deltas)), model = formula_text(model),
                              where = where, quiet = quiet),
                         settings, list(.files = stats::setNames(name, input))))
  out <- utils::read.csv(table, stringsAsFactors = FALSE)
  out$term[out$term == "Intercept"] <- "(Intercept)"
  out
}
