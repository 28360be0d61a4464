# Finding the Python environment that has the mlimpute package, once per session, and
# setting one up (install_mlimpute).

.state <- new.env(parent = emptyenv())

#' The Python side of mlimpute
#'
#' Imports the Python module the R functions call (\code{mlimpute.frontends.r_entry}) the first
#' time it is needed. The Python interpreter is the first of:
#' \enumerate{
#'   \item the environment variable \code{MLIMPUTE_PYTHON};
#'   \item the option \code{mlimpute.python};
#'   \item reticulate's own choice, when \code{RETICULATE_PYTHON} is set;
#'   \item the environment that \code{install_mlimpute()} set up (recorded in
#'     \code{tools::R_user_dir("mlimpute", "config")});
#'   \item the Python that installed this package with \code{mlimpute install-r}
#'     (recorded inside the package);
#'   \item the first \code{.venv/bin/python} found in the working directory or one of
#'     its parents (the environment \code{make demo} creates in a clone of the
#'     repository).
#' }
#' When none of them has mlimpute, the error says what to run: usually
#' \code{mlimpute::install_mlimpute()}, once.
#'
#' @return The imported Python module (a reticulate object), invisibly.
#' @seealso \code{\link{install_mlimpute}}
#' @examples
#' \dontrun{
#' mlimpute_python()
#' }
#' @export
mlimpute_python <- function() {
  if (!is.null(.state$entry)) return(invisible(.state$entry))
  python <- find_python()
  if (!is.null(python$path)) {
    if (!file.exists(python$path)) {
      stop("mlimpute: the Python named by ", python$how, " (", python$path, ") does not exist; ",
           "run mlimpute::install_mlimpute() to set one up", call. = FALSE)
    }
    reticulate::use_python(python$path, required = TRUE)
  }
  found <- tryCatch(reticulate::py_module_available("mlimpute"), error = function(e) NA)
  if (!isTRUE(found)) {
    where <- tryCatch(reticulate::py_config()$python, error = function(e) NULL)
    if (is.null(where) || is.na(found)) {
      stop("mlimpute: no Python was found; run mlimpute::install_mlimpute() once (it sets ",
           "up a Python environment with the mlimpute package)", call. = FALSE)
    }
    stop("mlimpute: the Python at ", where, " cannot import the mlimpute package; run ",
         "mlimpute::install_mlimpute() once (a new environment), or install it there: ",
         shQuote(where), " -m pip install mlimpute", call. = FALSE)
  }
  .state$entry <- reticulate::import("mlimpute.frontends.r_entry", convert = TRUE)
  invisible(.state$entry)
}

# The interpreter to use and how it was chosen (path NULL: leave it to reticulate).
find_python <- function() {
  named <- c("environment variable MLIMPUTE_PYTHON" = Sys.getenv("MLIMPUTE_PYTHON"),
             "option mlimpute.python" = getOption("mlimpute.python", ""))
  for (how in names(named)) {
    if (nzchar(named[[how]])) return(list(path = path.expand(named[[how]]), how = how))
  }
  if (nzchar(Sys.getenv("RETICULATE_PYTHON"))) return(list(path = NULL, how = "RETICULATE_PYTHON"))
  for (recorded in c(config_file(), system.file("python-path", package = "mlimpute"))) {
    if (nzchar(recorded) && file.exists(recorded)) {
      path <- trimws(readLines(recorded, n = 1L, warn = FALSE))
      if (length(path) == 1L && nzchar(path)) return(list(path = path, how = recorded))
    }
  }
  dir <- normalizePath(getwd(), mustWork = FALSE)
  repeat {
    candidate <- file.path(dir, ".venv", "bin", "python")
    if (file.exists(candidate)) return(list(path = candidate, how = "the .venv folder"))
    parent <- dirname(dir)
    if (identical(parent, dir)) return(list(path = NULL, how = "reticulate"))
    dir <- parent
  }
}

# Where install_mlimpute() records the interpreter of the environment it set up.
config_file <- function() file.path(tools::R_user_dir("mlimpute", "config"), "python")

#' Set up the Python side of mlimpute
#'
#' Creates (or reuses) a Python virtual environment through reticulate and installs the
#' mlimpute Python package into it with pip, then records the environment so that
#' later R sessions use it without any environment variable
#' (\code{tools::R_user_dir("mlimpute", "config")}). Run it once.
#'
#' @param source What to install: \code{NULL} (default) takes the Python package
#'   bundled inside this R package when it has one (a source package built with
#'   \code{make r-package}), otherwise \code{"mlimpute"} from the Python package
#'   index. A path to a wheel (\code{.whl}), a source archive or a source folder of
#'   mlimpute is installed as given.
#' @param envname The virtual environment: a name (created under reticulate's
#'   virtualenv root, e.g. \code{~/.virtualenvs}) or a path.
#' @param python The Python 3 interpreter (3.11 or later) that creates the
#'   environment; \code{NULL} lets reticulate find one.
#' @param force \code{TRUE} creates the environment afresh even when it exists.
#' @return The path of the environment's Python interpreter, invisibly.
#' @examples
#' \dontrun{
#' mlimpute::install_mlimpute()
#' mlimpute::install_mlimpute("~/Downloads/mlimpute-0.1.0-py3-none-any.whl")
#' }
#' @export
install_mlimpute <- function(source = NULL, envname = "r-mlimpute", python = NULL,
                             force = FALSE) {
  if (!is.null(source) && !(is.character(source) && length(source) == 1L && !is.na(source) &&
                            nzchar(source))) {
    stop("mlimpute: 'source' must be NULL or one path or package name", call. = FALSE)
  }
  if (!(is.character(envname) && length(envname) == 1L && !is.na(envname) && nzchar(envname))) {
    stop("mlimpute: 'envname' must be one name or path", call. = FALSE)
  }
  if (!(isTRUE(force) || isFALSE(force))) stop("mlimpute: 'force' must be TRUE or FALSE", call. = FALSE)
  if (is.null(source)) {
    bundled <- list.files(system.file("python", package = "mlimpute"),
                          pattern = "\\.(whl|tar\\.gz)$", full.names = TRUE)
    source <- if (length(bundled)) bundled[[1]] else "mlimpute"
  } else if (file.exists(source)) {
    source <- normalizePath(source)
  } else if (grepl("[/\\\\]", source) || grepl("\\.(whl|tar\\.gz|zip)$", source)) {
    stop("mlimpute: 'source' ", source, " does not exist", call. = FALSE)
  }
  home <- if (grepl("[/\\\\]", envname)) path.expand(envname) else
    file.path(path.expand(reticulate::virtualenv_root()), envname)
  # absolute, but not through symbolic links: a venv's python links to its base Python
  dir.create(dirname(home), recursive = TRUE, showWarnings = FALSE)
  home <- file.path(normalizePath(dirname(home)), basename(home))
  interpreter <- env_python(home)
  if (force && dir.exists(home)) unlink(home, recursive = TRUE)
  if (!file.exists(interpreter)) {
    if (is.null(python)) python <- Sys.which(if (.Platform$OS.type == "windows") "python" else "python3")
    if (!nzchar(python)) {
      stop("mlimpute: no Python 3 was found to create the environment; install Python 3.11 ",
           "or later (https://www.python.org) and run mlimpute::install_mlimpute() again, or ",
           "give it: install_mlimpute(python = \"/path/to/python3\")", call. = FALSE)
    }
    run_python(python, c("-m", "venv", home), "create the environment")
  }
  run_python(interpreter, c("-m", "pip", "install", "--upgrade", "pip"), "update pip")
  run_python(interpreter, c("-m", "pip", "install", source), "install mlimpute")
  # the same version again (a rebuilt wheel): replace the package, not its dependencies
  run_python(interpreter, c("-m", "pip", "install", "--force-reinstall", "--no-deps", source),
             "install mlimpute")
  dir.create(dirname(config_file()), recursive = TRUE, showWarnings = FALSE)
  writeLines(interpreter, config_file())
  message("mlimpute: the Python side is installed in ", dirname(dirname(interpreter)),
          "; later R sessions use it (recorded in ", config_file(), ")")
  if (!is.null(.state$entry) || reticulate::py_available(initialize = FALSE)) {
    message("mlimpute: this R session already runs another Python; restart R to use it")
  }
  invisible(interpreter)
}

# The interpreter of a virtual environment.
env_python <- function(home) {
  if (.Platform$OS.type == "windows") file.path(home, "Scripts", "python.exe")
  else file.path(home, "bin", "python")
}

# Run a Python command for install_mlimpute(), its output shown as it goes. R puts its
# own library folders on LD_LIBRARY_PATH; a Python started with them may load another
# Python's shared library (seen: Debian's libpython beside a pyenv Python), so they are
# cleared for the child.
run_python <- function(python, args, what) {
  env <- if (.Platform$OS.type == "windows") character() else "LD_LIBRARY_PATH="
  status <- system2(python, shQuote(args), env = env)
  if (!identical(status, 0L)) {
    stop("mlimpute: could not ", what, " (", python, " ", paste(args, collapse = " "),
         " exited with status ", status, ")", call. = FALSE)
  }
  invisible(TRUE)
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
