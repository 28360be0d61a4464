#' Multilevel multiple imputation with the REALCOM-IMPUTE joint model
#'
#' Imputes the missing values of a two-, three- or more-level (nested or
#' cross-classified) data set with mlimpute's Gibbs sampler
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
#' @param cluster Name of the cluster column, for the default model; several for more
#'   levels, innermost first (\code{c("class", "school")}, nested: checked against the
#'   data), or crossed classifications with \code{crossed = TRUE}. With a formula, the
#'   random terms give the classifications in lme4's notation:
#'   \code{(1 | school) + (1 | class)}, \code{(1 | school/class)} (class ids may then
#'   restart within schools) or crossed \code{(1 | school) + (1 | area)}.
#' @param crossed \code{TRUE} when the \code{cluster} columns are crossed, not nested.
#' @param m,burnin,between Number of imputations, burn-in iterations, iterations
#'   between kept imputations; \code{NULL} keeps the spec's values (with \code{spec}) or
#'   the defaults 20, 1000 and 500. Each may be \code{"auto"}: the burn-in runs until
#'   every parameter has rank-normalised R-hat below 1.01 and bulk ESS of at least 400
#'   (at most \code{max_burnin} iterations per chain); the gap is the first lag at which
#'   every parameter's autocorrelation is below 0.05; M is sized by a pilot of
#'   \code{pilot_m} imputations so that standard errors are replicable to a coefficient
#'   of variation \code{se_cv} (von Hippel 2020). What was chosen is in
#'   \code{mlimpute_spec()} and printed with the object.
#' @param max_burnin,pilot_m,se_cv Settings of the \code{"auto"} choices (defaults
#'   20000, 20, 0.05).
#' @param delta MNAR sensitivity shifts, as the command line's \code{--delta}:
#'   \code{"y=-0.3"} adds -0.3 to every imputed value of \code{y} (the latent probit
#'   index of a binary or ordinal response), \code{"y=-0.3 if girl == 1"} only in a
#'   subgroup. Observed values never move. See also \code{mlimpute_sensitivity()}.
#' @param model The model of interest in lme4's notation, e.g.
#'   \code{y ~ x * z + I(x^2) + (1 + x | school)}: it becomes part of the imputation
#'   model (substantive-model-compatible imputation, as \code{jomo.lmer}/\code{jomo.glmer}
#'   but with any covariate model): its outcome is imputed from it, and its incomplete
#'   covariates so that it holds, with interactions, powers and random slopes of
#'   incomplete covariates recomputed from the imputed values. The covariate model is
#'   the rest of the call (formula, type, spec, cluster) or, alone, mlimpute's default
#'   for the formula's grouping without the outcome. \code{m = "auto"} sizes M for its
#'   estimates.
#' @param family The outcome's model: \code{"auto"} (probit for two categories),
#'   \code{"gaussian"} or \code{"probit"}. There is no logit (the sampler's data
#'   augmentation for a binary outcome is the probit's).
#' @param joint_only \code{TRUE} imputes with the joint model alone; \code{model} then
#'   only sizes M.
#' @param seed Integer seed; the same seed gives identical imputations. \code{NULL}:
#'   the spec's, or a random one (recorded in \code{mlimpute_spec()}).
#' @param random.L1 \code{"none"} (common level-1 covariance) or \code{"mean"}/\code{"full"}
#'   (one per cluster), as in \code{jomoImpute}.
#' @param responses,covariates,exclude Column names overriding the default model.
#' @param spec A model spec as JSON text (e.g. \code{mlimpute_spec()} of an earlier run,
#'   which then is repeated exactly).
#' @param chains Independent chains, each with its own burn-in.
#' @param level1_weight,level2_weight Names of sampling-weight columns (as the command
#'   line's \code{--level1-weight}, \code{--level2-weight}).
#' @param priors A list of inverse-Wishart prior settings, named as the spec's
#'   \code{[priors]} (\code{level1_df}, \code{level1_scale}, \code{level2_df}, ...).
#' @param quiet \code{FALSE} shows the sampler's progress.
#' @return An object of class \code{mlimpute}: a list of the \code{m} completed
#'   data.frames, with the original data, the spec used, the imputed columns and the
#'   convergence diagnostics as attributes. It is accepted by
#'   \code{mitml::as.mitml.list()}; \code{mlimpute_mids()} converts it to \code{mids};
#'   \code{as.data.frame()} gives the long shape (\code{.imp} 0..m, \code{.id});
#'   \code{summary()} and \code{plot()} show convergence.
#'   Columns the Python side does not read (Date, POSIXct, list columns) are carried
#'   through untouched, as long as the model does not use them.
#' @examples
#' \dontrun{
#' data(studentratings, package = "mitml")
#' imp <- mlimpute(studentratings, ReadDis + SES ~ 1 + ReadAchiev + (1 | ID), m = 20, seed = 1)
#' fits <- with(mitml::as.mitml.list(imp), lme4::lmer(ReadAchiev ~ ReadDis + (1 | ID)))
#' mitml::testEstimates(fits)
#' summary(imp)
#' # compatible with a random slope of an incomplete covariate
#' imp2 <- mlimpute(studentratings, model = ReadAchiev ~ ReadDis + SES + (1 + ReadDis | ID),
#'                  seed = 1)
#' }
#' @export
mlimpute <- function(data, formula = NULL, type = NULL, cluster = NULL, m = NULL, burnin = NULL,
                     between = NULL, seed = NULL, random.L1 = c("none", "mean", "full"),
                     responses = NULL, covariates = NULL, exclude = NULL, spec = NULL,
                     chains = NULL, level1_weight = NULL, level2_weight = NULL, priors = NULL,
                     quiet = TRUE, max_burnin = NULL, pilot_m = NULL, se_cv = NULL,
                     delta = NULL, model = NULL, crossed = FALSE, family = "auto",
                     joint_only = FALSE) {
  name <- paste(deparse(substitute(data), width.cutoff = 60L)[1], collapse = "")
  if (!is.data.frame(data)) stop("mlimpute: 'data' must be a data.frame", call. = FALSE)
  random.L1 <- match.arg(random.L1)
  check_settings(m = m, burnin = burnin, between = between, seed = seed, chains = chains,
                 max_burnin = max_burnin, pilot_m = pilot_m, se_cv = se_cv, quiet = quiet)
  check_flag(crossed, "crossed")
  check_flag(joint_only, "joint_only")
  check_choice(family, "family", c("auto", "gaussian", "probit", "logit"))
  check_names(cluster, "cluster")
  for (option in c("responses", "covariates", "exclude")) check_names(get(option), option)
  check_names(level1_weight, "level1_weight", one = TRUE)
  check_names(level2_weight, "level2_weight", one = TRUE)
  if (!is.null(delta) && !(is.character(delta) && !anyNA(delta))) {
    stop("mlimpute: 'delta' must be text such as \"y=-0.3\", got ", shown(delta), call. = FALSE)
  }
  if (!is.null(priors) && !is.list(priors)) {
    stop("mlimpute: 'priors' must be a named list, got ", shown(priors), call. = FALSE)
  }
  if (!is.null(spec) && !(is.character(spec) && length(spec) == 1L && !is.na(spec))) {
    stop("mlimpute: 'spec' must be a spec as JSON text (mlimpute_spec() of a run)", call. = FALSE)
  }
  data <- as.data.frame(data)
  carried <- names(data)[vapply(data, unreadable_column, logical(1))]
  used <- c(cluster, responses, covariates, level1_weight, level2_weight, names(type),
            unlist(lapply(formula_text(formula), all.vars_text)),
            if (is.null(model)) NULL else all.vars_text(formula_text(model)))
  clash <- intersect(carried, used)
  if (length(clash)) {
    stop("mlimpute: column '", clash[1], "' of '", name, "' is a ", class(data[[clash[1]]])[1],
         "; the model cannot use it (convert it, e.g. with as.numeric)", call. = FALSE)
  }
  input <- tempfile(fileext = ".rds")
  output <- tempfile(fileext = ".rds")
  chain <- tempfile(fileext = ".rds")
  on.exit(unlink(c(input, output, chain)))
  saveRDS(data[setdiff(names(data), carried)], input)
  result <- call_python("impute_rds", input, output,
                        cluster = if (is.null(cluster)) NULL else as.list(cluster),
                        crossed = crossed,
                        formula = formula_text(formula), type = type_codes(type),
                        random_L1 = random.L1, responses = responses, covariates = covariates,
                        exclude = exclude, spec = spec, m = m, burnin = burnin,
                        between = between, seed = seed, chains = chains,
                        level1_weight = level1_weight, level2_weight = level2_weight,
                        priors = priors, chain = chain, quiet = quiet,
                        max_burnin = max_burnin, pilot_m = pilot_m, se_cv = se_cv,
                        delta = if (is.null(delta)) NULL else as.list(delta),
                        model = if (is.null(model)) NULL else formula_text(model),
                        family = family, joint_only = joint_only,
                        .files = stats::setNames(name, input))
  long <- readRDS(output)
  rows <- rep(seq_len(nrow(data)), length.out = nrow(long))
  # indexing keeps the column's class (AsIs list columns, Date, POSIXct); rep() drops it
  for (column in carried) long[[column]] <- data[[column]][rows]
  for (column in setdiff(names(data), carried)) {
    long[[column]] <- with_attributes_of(long[[column]], data[[column]])
  }
  long <- long[c(".imp", ".id", names(data))]
  new_mlimpute(long, result$spec, imputed = unlist(result$imputed),
               summary = as.data.frame(lapply(result$summary, unlist), stringsAsFactors = FALSE),
               warnings = unlist(result$warnings), chain = readRDS(chain),
               notes = unlist(result$notes))
}

# The sampler's settings as mlimpute() and mlimpute_sensitivity() take them.
check_settings <- function(m = NULL, burnin = NULL, between = NULL, seed = NULL, chains = NULL,
                           max_burnin = NULL, pilot_m = NULL, se_cv = NULL, quiet = TRUE) {
  check_count(m, "m", 1, auto = TRUE)
  check_count(burnin, "burnin", 0, auto = TRUE)
  check_count(between, "between", 1, auto = TRUE)
  check_count(seed, "seed", 0)
  check_count(chains, "chains", 1)
  check_count(max_burnin, "max_burnin", 8)
  check_count(pilot_m, "pilot_m", 2)
  check_number(se_cv, "se_cv", 0, 1)
  check_flag(quiet, "quiet")
}

# A column back from Python with the attributes the user's column had (haven's labels,
# variable label and Stata format; a factor's levels), where its storage type is unchanged.
with_attributes_of <- function(values, original) {
  kept <- attributes(original)
  if (is.null(kept) || !identical(typeof(values), typeof(original))) return(values)
  if (is.factor(original) && !identical(levels(values), levels(original))) return(values)
  attributes(values) <- kept[setdiff(names(kept), c("names", "dim", "dimnames"))]
  values
}

# Columns the .rds bridge does not take (they go around it, untouched).
unreadable_column <- function(column) {
  inherits(column, c("Date", "POSIXt", "difftime")) || is.list(column)
}

all.vars_text <- function(text) all.vars(stats::as.formula(text))

new_mlimpute <- function(long, spec, imputed = character(0), summary = NULL,
                         warnings = character(0), chain = NULL, notes = character(0)) {
  columns <- setdiff(names(long), c(".imp", ".id"))
  part <- function(i) {
    d <- long[long$.imp == i, columns, drop = FALSE]
    rownames(d) <- NULL
    d
  }
  structure(lapply(seq_len(max(long$.imp)), part), class = c("mlimpute", "list"),
            long = long, original = part(0), spec = spec, imputed = imputed,
            summary = summary, warnings = warnings, chain = chain, notes = notes)
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
  imputed <- attr(x, "imputed")
  cat("mlimpute: ", length(x), " imputations of ", nrow(original), " rows; imputed: ",
      paste(imputed, collapse = ", "), "\n", sep = "")
  for (n in attr(x, "notes")) cat("note: ", n, "\n", sep = "")
  for (w in attr(x, "warnings")) cat("warning: ", w, "\n", sep = "")
  invisible(x)
}

#' Convergence of an imputation run
#'
#' \code{summary()} gives every parameter's posterior mean and standard deviation, its
#' bulk and tail effective sample sizes and rank-normalised split R-hat (Vehtari et al.
#' 2021; over all chains, after burn-in), and the warnings in words; \code{plot()} draws
#' the parameters' traces, burn-in marked.
#'
#' @param object,x An \code{mlimpute} object.
#' @param parameters For \code{plot()}: names or a regular expression choosing the
#'   parameters (default: all, a page of up to 12 at a time).
#' @param ... Unused.
#' @return \code{summary()}: a data.frame of class \code{summary.mlimpute}
#'   (parameter, mean, sd, ess_bulk, ess_tail, rhat). \code{plot()}: \code{x}, invisibly.
#' @export
summary.mlimpute <- function(object, ...) {
  table <- attr(object, "summary")
  structure(table, class = c("summary.mlimpute", "data.frame"),
            warnings = attr(object, "warnings"))
}

#' @export
print.summary.mlimpute <- function(x, ...) {
  print(structure(x, class = "data.frame"), digits = 4, row.names = FALSE)
  for (w in attr(x, "warnings")) cat("warning: ", w, "\n", sep = "")
  invisible(x)
}

#' @rdname summary.mlimpute
#' @export
plot.mlimpute <- function(x, parameters = NULL, ...) {
  chain <- attr(x, "chain")
  names <- setdiff(names(chain), c("chain", "iteration", "burnin"))
  if (!is.null(parameters)) {
    names <- if (length(parameters) == 1 && !parameters %in% names) {
      grep(parameters, names, value = TRUE)
    } else intersect(parameters, names)
  }
  names <- names[vapply(chain[names], stats::sd, numeric(1)) > 0]
  if (!length(names)) stop("mlimpute: no parameter to plot", call. = FALSE)
  end <- sum(chain$burnin[chain$chain == 1])
  old <- graphics::par(mfrow = c(min(4, length(names)), min(3, ceiling(length(names) / 4))),
                       mar = c(2, 4, 1.5, 1))
  on.exit(graphics::par(old))
  for (name in names) {
    wide <- do.call(cbind, split(chain[[name]], chain$chain))
    graphics::matplot(wide, type = "l", lty = 1, ylab = "", main = name, cex.main = 0.8)
    if (end > 0) graphics::abline(v = end, lty = 2, col = "grey")
  }
  invisible(x)
}

#' Convert imputations to a mice mids object
#'
#' A converter with a name of its own, so that it works whichever of mice and mlimpute
#' is attached last (\code{mice::as.mids(as.data.frame(imp))} does the same).
#' \code{mitml::as.mitml.list()} accepts an \code{mlimpute} object as it is.
#'
#' @param x An \code{mlimpute} object.
#' @param ... Passed to \code{mice::as.mids}.
#' @return A \code{mids} object.
#' @examples
#' \dontrun{
#' imp <- mlimpute(studentratings, ReadDis + SES ~ 1 + ReadAchiev + (1 | ID), seed = 1)
#' mice::pool(with(mlimpute_mids(imp), lm(ReadAchiev ~ ReadDis)))
#' }
#' @export
mlimpute_mids <- function(x, ...) {
  if (!inherits(x, "mlimpute")) stop("mlimpute: 'x' must be an mlimpute object", call. = FALSE)
  if (!requireNamespace("mice", quietly = TRUE)) {
    stop("mlimpute: mlimpute_mids needs the 'mice' package", call. = FALSE)
  }
  mice::as.mids(attr(x, "long"), ...)
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
