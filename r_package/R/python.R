# Finding the Python environment that has the mlimpute package, once per session.

.state <- new.env(parent = emptyenv())

#' The Python side of mlimpute
#'
#' Imports the Python module the R functions call (\code{mlimpute.r_entry}) the first
#' time it is needed. The Python interpreter is, in this order: the environment
#' variable \code{MLIMPUTE_PYTHON}, the option \code{mlimpute.python}, reticulate's own
#' choice when \code{RETICULATE_PYTHON} is set, else the first \code{.venv/bin/python}
#' found in the working directory or one of its parents (the environment that
#' \code{make demo} creates in a clone of the mlimpute repository).
#'
#' @return The imported Python module (a reticulate object), invisibly.
#' @examples
#' \dontrun{
#' Sys.setenv(RETICULATE_PYTHON = "~/mlimpute/.venv/bin/python")
#' mlimpute_python()
#' }
#' @export
mlimpute_python <- function() {
  if (!is.null(.state$entry)) return(invisible(.state$entry))
  python <- find_python()
  if (!is.null(python)) reticulate::use_python(python, required = TRUE)
  if (!reticulate::py_module_available("mlimpute")) {
    stop("mlimpute: the Python package 'mlimpute' is not importable from ",
         reticulate::py_config()$python, "; set RETICULATE_PYTHON (or MLIMPUTE_PYTHON) to ",
         "the python of the environment where it is installed, e.g. ",
         "<repository>/.venv/bin/python created by 'make demo'", call. = FALSE)
  }
  .state$entry <- reticulate::import("mlimpute.r_entry", convert = TRUE)
  invisible(.state$entry)
}

find_python <- function() {
  for (candidate in c(Sys.getenv("MLIMPUTE_PYTHON"), getOption("mlimpute.python", ""))) {
    if (nzchar(candidate)) return(path.expand(candidate))
  }
  if (nzchar(Sys.getenv("RETICULATE_PYTHON"))) return(NULL)
  dir <- normalizePath(getwd(), mustWork = FALSE)
  repeat {
    candidate <- file.path(dir, ".venv", "bin", "python")
    if (file.exists(candidate)) return(candidate)
    parent <- dirname(dir)
    if (identical(parent, dir)) return(NULL)
    dir <- parent
  }
}

# Call a guarded entry point; its one-line error becomes an R error.  `.files` maps the
# temporary files the call reads (names) to what the user knows them as (values: the
# data.frame's name), so that an error names the user's object, never a temporary file.
call_python <- function(name, ..., .files = character(0)) {
  result <- mlimpute_python()[[name]](...)
  if (nzchar(result$error)) {
    message <- result$error
    for (path in names(.files)) {
      message <- gsub(paste0("file '", path, "'"), paste0("data '", .files[[path]], "'"),
                      message, fixed = TRUE)
    }
    stop("mlimpute: ", message, call. = FALSE)
  }
  result
}

formula_text <- function(formula) {
  if (is.null(formula)) return(NULL)
  one <- function(f) {
    if (is.character(f)) return(f)
    if (!inherits(f, "formula")) stop("mlimpute: 'formula' must be a formula, a string or a list of two", call. = FALSE)
    paste(deparse(f, width.cutoff = 500L), collapse = " ")
  }
  if (is.list(formula)) return(lapply(formula, one))
  one(formula)
}

type_codes <- function(type) {
  if (is.null(type)) return(NULL)
  one <- function(t) {
    if (is.null(names(t))) return(as.list(as.integer(t)))
    as.list(stats::setNames(as.integer(t), names(t)))
  }
  if (is.list(type)) return(lapply(type, one))
  one(type)
}
