# Checks of the R arguments, done before any Python is called, so that a mistyped
# argument is an R error naming it (m = NA, burnin = "100", chains = 1.5, ...), never a
# silent default or a Python message.

# NULL (keep the default), or one whole number >= `low` (or "auto" where the setting can
# be chosen by the run).
check_count <- function(value, name, low = 0, auto = FALSE) {
  if (is.null(value)) return(invisible(NULL))
  if (auto && is.character(value) && length(value) == 1L && !is.na(value) &&
      identical(tolower(trimws(value)), "auto")) return(invisible("auto"))
  expected <- paste0("a whole number >= ", format(low), if (auto) " or \"auto\"" else "")
  ok <- is.numeric(value) && length(value) == 1L && !is.na(value) && is.finite(value) &&
    value == round(value) && value >= low
  if (!ok) stop("mlimpute: '", name, "' must be ", expected, ", got ", shown(value), call. = FALSE)
  invisible(value)
}

check_flag <- function(value, name) {
  if (!(isTRUE(value) || isFALSE(value))) {
    stop("mlimpute: '", name, "' must be TRUE or FALSE, got ", shown(value), call. = FALSE)
  }
  invisible(value)
}

# NULL, or a number strictly between `low` and `high`.
check_number <- function(value, name, low, high) {
  if (is.null(value)) return(invisible(NULL))
  ok <- is.numeric(value) && length(value) == 1L && !is.na(value) && value > low && value < high
  if (!ok) stop("mlimpute: '", name, "' must be a number between ", low, " and ", high,
                ", got ", shown(value), call. = FALSE)
  invisible(value)
}

# NULL, or column names (a character vector without NA or empty names).
check_names <- function(value, name, one = FALSE) {
  if (is.null(value)) return(invisible(NULL))
  ok <- is.character(value) && length(value) >= 1L && !anyNA(value) && all(nzchar(value)) &&
    (!one || length(value) == 1L)
  if (!ok) stop("mlimpute: '", name, "' must be ", if (one) "one column name" else "column names",
                ", got ", shown(value), call. = FALSE)
  invisible(value)
}

check_choice <- function(value, name, choices) {
  if (!(is.character(value) && length(value) == 1L && !is.na(value) && value %in% choices)) {
    stop("mlimpute: '", name, "' must be one of ", paste0("\"", choices, "\"", collapse = ", "),
         ", got ", shown(value), call. = FALSE)
  }
  invisible(value)
}

# How a value looks in a message: NA, NULL, "100" (quoted text), 1.5, c(1, 2).
shown <- function(value) {
  if (is.null(value)) return("NULL")
  text <- paste(deparse(value, width.cutoff = 60L), collapse = " ")
  if (nchar(text) > 60) paste0(substr(text, 1, 57), "...") else text
}
