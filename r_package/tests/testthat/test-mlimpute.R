test_that("formula interface imputes the targets and keeps observed values", {
  need_python()
  d <- ratings()
  imp <- mlimpute(d, ReadDis + SES ~ 1 + ReadAchiev + (1 | ID), m = 3, burnin = 100,
                  between = 20, seed = 1)
  expect_s3_class(imp, "mlimpute")
  expect_length(imp, 3)
  for (k in 1:3) {
    completed <- imp[[k]]
    expect_identical(names(completed), names(d))
    expect_false(anyNA(completed$ReadDis))
    expect_false(anyNA(completed$SES))
    observed <- !is.na(d$SES)
    expect_identical(completed$SES[observed], d$SES[observed])
    expect_identical(completed$Sex, d$Sex)
  }
  expect_false(identical(imp[[1]]$SES, imp[[2]]$SES))
  again <- mlimpute(d, ReadDis + SES ~ 1 + ReadAchiev + (1 | ID), m = 3, burnin = 100,
                    between = 20, seed = 1)
  expect_identical(as.data.frame(again), as.data.frame(imp))
  expect_match(mlimpute_spec(imp), '"seed": 1')
  expect_output(print(imp), "3 imputations of")
})

test_that("results pool with mitml and mice unchanged, and agree with mlimpute_pool", {
  need_python()
  skip_if_not_installed("lme4")
  d <- ratings()
  imp <- mlimpute(d, ReadDis + SES ~ 1 + ReadAchiev + (1 | ID), m = 5, burnin = 100,
                  between = 20, seed = 2)
  fits <- with(mitml::as.mitml.list(imp), lme4::lmer(ReadAchiev ~ ReadDis + (1 | ID)))
  mitml_table <- mitml::testEstimates(fits)$estimates
  ours <- mlimpute_pool(imp, ReadAchiev ~ ReadDis + (1 | ID))
  rownames(ours) <- ours$term
  expect_equal(ours[rownames(mitml_table), "estimate"], unname(mitml_table[, "Estimate"]),
               tolerance = 1e-4)
  expect_equal(ours[rownames(mitml_table), "std_error"], unname(mitml_table[, "Std.Error"]),
               tolerance = 1e-3)
  # complete-data df and a linear hypothesis, as mitml's testEstimates/testConstraints take them
  lm_fits <- with(mitml::as.mitml.list(imp), stats::lm(ReadAchiev ~ ReadDis + SES))
  ours <- mlimpute_pool(imp, ReadAchiev ~ ReadDis + SES, df.com = 100,
                        test = "ReadDis - SES = 0")
  rownames(ours) <- ours$term
  theirs <- mitml::testEstimates(lm_fits, df.com = 100)$estimates
  expect_equal(ours[rownames(theirs), "df"], unname(theirs[, "df"]), tolerance = 1e-6)
  d1 <- mitml::testConstraints(lm_fits, constraints = "ReadDis - SES", df.com = 100)$test
  expect_equal(unname(attr(ours, "test")[c("F", "df2", "p_value")]),
               unname(d1[1, c("F.value", "df2", "P(>F)")]), tolerance = 1e-6)
  expect_error(mlimpute_pool(imp, ReadAchiev ~ ReadDis, test = NA), "'test' must be hypotheses")
  expect_error(mlimpute_pool(imp, ReadAchiev ~ ReadDis, df.com = -1), "'df.com' must be")
  mids <- mlimpute_mids(imp)
  expect_s3_class(mids, "mids")
  # whatever is attached last, mice's own converter reads the long shape too
  library(mice, warn.conflicts = FALSE)
  expect_s3_class(mice::as.mids(as.data.frame(imp)), "mids")
  expect_equal(mlimpute_mids(imp)$imp, mice::as.mids(as.data.frame(imp))$imp)
  expect_equal(mids$m, 5)
  pooled <- summary(mice::pool(with(mids, lm(ReadAchiev ~ ReadDis))))
  direct <- mitml::testEstimates(with(mitml::as.mitml.list(imp), lm(ReadAchiev ~ ReadDis)))
  expect_equal(pooled$estimate, unname(direct$estimates[, "Estimate"]), tolerance = 1e-10)
})

test_that("default model, factors and type codes", {
  need_python()
  d <- ratings()
  d$Grade <- factor(ifelse(d$ReadAchiev > 550, "high", ifelse(d$ReadAchiev > 450, "mid", "low")),
                    levels = c("low", "mid", "high"), ordered = TRUE)
  d$Grade[seq(1, nrow(d), by = 7)] <- NA
  d$ReadAchiev <- NULL
  imp <- mlimpute(d, cluster = "ID", m = 2, burnin = 50, between = 10, seed = 3)
  expect_true(is.ordered(imp[[1]]$Grade))
  expect_identical(levels(imp[[2]]$Grade), c("low", "mid", "high"))
  expect_false(anyNA(imp[[2]]$Grade))
  expect_match(mlimpute_spec(imp), '"type": "ordinal"')
  by_type <- mlimpute(ratings(), type = c(ID = -2, ReadAchiev = 2, ReadDis = 1, SES = 1, Sex = 0),
                      m = 2, burnin = 50, between = 10, seed = 4)
  expect_length(by_type, 2)
})

test_that("bad input stops with one line", {
  need_python()
  expect_error(mlimpute(1:3, cluster = "ID"), "'data' must be a data.frame")
  err <- tryCatch(mlimpute(ratings(), cluster = "school", m = 2), error = conditionMessage)
  expect_match(err, "^mlimpute: .*school")
  expect_false(grepl("\n", err))
  err <- tryCatch(mlimpute(ratings(), ReadDis ~ x * y + (1 | ID), m = 2), error = conditionMessage)
  expect_match(err, "is derived")
})

test_that("a spec's settings are honoured and mlimpute_spec repeats the run exactly", {
  need_python()
  d <- ratings()
  first <- mlimpute(d, ReadDis + SES ~ 1 + ReadAchiev + (1 | ID), m = 3, burnin = 60,
                    between = 7, seed = 11)
  spec <- mlimpute_spec(first)
  expect_match(spec, '"burnin": 60')
  again <- mlimpute(d, spec = spec)
  expect_length(again, 3)
  expect_identical(as.data.frame(again), as.data.frame(first))
  more <- mlimpute(d, spec = spec, m = 4)
  expect_length(more, 4)
})

test_that("print names the imputed columns only; summary and plot show convergence", {
  need_python()
  d <- ratings()
  d$Note <- NA_character_
  d$Note[1:5] <- "checked"
  imp <- mlimpute(d, ReadDis + SES ~ 1 + ReadAchiev + (1 | ID), m = 2, burnin = 30,
                  between = 5, seed = 5)
  out <- capture.output(print(imp))
  expect_match(out[1], "imputed: ReadDis, SES$")
  s <- summary(imp)
  expect_s3_class(s, "summary.mlimpute")
  expect_true(all(c("parameter", "mean", "sd", "ess_bulk", "ess_tail", "rhat") %in% names(s)))
  expect_true(any(grepl("^omega_e\\[", s$parameter)))
  expect_true(all(s$ess_bulk > 0, na.rm = TRUE))
  pdf(NULL)
  expect_invisible(plot(imp, "omega"))
  dev.off()
})

test_that("labelled 0/1 variables are binary; Date columns are carried through", {
  need_python()
  skip_if_not_installed("haven")
  d <- ratings()
  set.seed(1)
  passed <- as.numeric(d$ReadAchiev + stats::rnorm(nrow(d), 0, 60) > 500)
  passed[seq(2, nrow(d), by = 6)] <- NA
  d$Passed <- haven::labelled(passed, c(no = 0, yes = 1))
  d$Visit <- as.Date("2020-01-01") + seq_len(nrow(d))
  imp <- mlimpute(d, Passed + SES ~ 1 + ReadAchiev + (1 | ID), m = 2, burnin = 30,
                  between = 5, seed = 6)
  for (k in 1:2) {
    expect_true(all(imp[[k]]$Passed %in% c(0, 1)))
    expect_identical(imp[[k]]$Visit, d$Visit)
    expect_s3_class(imp[[k]]$Passed, "haven_labelled")
    expect_identical(attr(imp[[k]]$Passed, "labels"), c(no = 0, yes = 1))
  }
  expect_match(mlimpute_spec(imp), '"name": "Passed",\\s*"type": "binary"')
  err <- tryCatch(mlimpute(d, Visit ~ 1 + ReadAchiev + (1 | ID), m = 2), error = conditionMessage)
  expect_match(err, "column 'Visit' of 'd' is a Date")
})

test_that("errors name the user's object, not a temporary file; weights and priors pass", {
  need_python()
  my_pupils <- ratings()
  my_pupils$ReadAchiev[3] <- Inf
  err <- tryCatch(mlimpute(my_pupils, cluster = "ID", m = 2), error = conditionMessage)
  expect_match(err, "my_pupils")
  expect_false(grepl("\\.rds", err))
  d <- ratings()
  d$w <- 1
  err <- tryCatch(mlimpute(d, ReadDis ~ 1 + ReadAchiev + (1 | ID), m = 2, burnin = 5,
                           between = 2, priors = list(level1_df = -1000)),
                  error = conditionMessage)
  expect_match(err, "level1_df")
  imp <- mlimpute(d, ReadDis ~ 1 + ReadAchiev + (1 | ID), m = 2, burnin = 5, between = 2,
                  seed = 1, level1_weight = "w")
  expect_match(mlimpute_spec(imp), '"level1_weight": "w"')
})

test_that("automatic settings, MNAR deltas, sensitivity and M needed reach R", {
  need_python()
  d <- ratings()
  imp <- mlimpute(d, ReadDis + SES ~ 1 + ReadAchiev + (1 | ID), m = "auto", burnin = "auto",
                  between = "auto", max_burnin = 200, pilot_m = 3, se_cv = 0.3, seed = 2)
  spec <- jsonlite::fromJSON(mlimpute_spec(imp))
  expect_true(is.numeric(spec$mcmc$burnin) && spec$mcmc$burnin <= 200)
  expect_true(is.numeric(spec$mcmc$between) && spec$mcmc$m == length(imp))
  expect_true(any(grepl("^burn-in:", attr(imp, "notes"))))
  expect_true(any(grepl("^note: m: ", capture.output(print(imp)))))
  again <- mlimpute(d, spec = mlimpute_spec(imp))
  expect_identical(as.data.frame(again), as.data.frame(imp))

  plain <- mlimpute(d, ReadDis + SES ~ 1 + ReadAchiev + (1 | ID), m = 2, burnin = 20,
                    between = 5, seed = 3)
  shifted <- mlimpute(d, ReadDis + SES ~ 1 + ReadAchiev + (1 | ID), m = 2, burnin = 20,
                      between = 5, seed = 3, delta = "ReadDis=1")
  missing <- is.na(d$ReadDis)
  expect_equal(shifted[[1]]$ReadDis[missing], plain[[1]]$ReadDis[missing] + 1)
  expect_identical(shifted[[1]]$ReadDis[!missing], d$ReadDis[!missing])
  expect_error(mlimpute(d, ReadDis + SES ~ 1 + ReadAchiev + (1 | ID), delta = "nope=1"),
               "not a response")

  pooled <- mlimpute_pool(plain, ReadAchiev ~ ReadDis + (1 | ID), se_cv = 0.1)
  expect_true(all(c("var(ID)", "icc(ID)") %in% pooled$term))
  expect_true(all(is.finite(pooled$ci_lower[pooled$term == "icc(ID)"])))
  expect_true(is.numeric(attr(pooled, "m_needed")))

  table <- mlimpute_sensitivity(d, "ReadDis", c(-1, 0, 1), ReadAchiev ~ ReadDis + (1 | ID),
                                formula = ReadDis + SES ~ 1 + ReadAchiev + (1 | ID), m = 2,
                                burnin = 20, between = 5, seed = 3)
  expect_equal(sort(unique(table$delta)), c(-1, 0, 1))
  zero <- table[table$delta == 0 & table$term == "ReadDis", "estimate"]
  expect_equal(zero, pooled[pooled$term == "ReadDis", "estimate"], tolerance = 1e-8)
})

test_that("three-level and cross-classified models in lme4's notation", {
  need_python()
  set.seed(3)
  school <- rep(1:8, each = 30)
  class <- rep(1:3, each = 10, times = 8)                # ids restart within school
  area <- sample(1:6, 240, replace = TRUE)
  x <- rnorm(240) + rnorm(8)[school]
  y <- 0.5 * x + rnorm(8)[school] + rnorm(24)[(school - 1) * 3 + class] + rnorm(240)
  s <- (1 + rnorm(8))[school]
  d <- data.frame(school, class, area, x, y, s)
  d$y[sample(240, 60)] <- NA
  d$s[school %in% c(2, 5)] <- NA
  nested <- mlimpute(d, list(y ~ x + (1 | school/class), s ~ 1), m = 2, burnin = 30,
                     between = 5, seed = 1)
  spec <- mlimpute_spec(nested)
  expect_match(spec, '"class:school"')
  for (k in 1:2) {
    expect_false(anyNA(nested[[k]]$y))
    expect_identical(nested[[k]]$y[!is.na(d$y)], d$y[!is.na(d$y)])
    expect_true(all(tapply(nested[[k]]$s, d$school, function(v) length(unique(v))) == 1))
  }
  # class ids unique across schools, given as two classifications
  d$classid <- (d$school - 1) * 3 + d$class
  two_terms <- mlimpute(d, y ~ x + (1 | school) + (1 | classid), m = 2, burnin = 30,
                        between = 5, seed = 1)
  expect_match(mlimpute_spec(two_terms), '"classid",\\s*"school"')
  crossed <- mlimpute(d, y ~ x + (1 | school) + (1 | area), m = 2, burnin = 30, between = 5,
                      seed = 1)
  expect_match(mlimpute_spec(crossed), '"crossed": true')
  by_cluster <- mlimpute(d[c("school", "area", "x", "y")], cluster = c("area", "school"),
                         crossed = TRUE, m = 2, burnin = 30, between = 5, seed = 1)
  expect_false(anyNA(by_cluster[[1]]$y))
  # restarting ids given as classifications by value are not nested: one line
  expect_error(mlimpute(d, cluster = c("class", "school"), m = 2, burnin = 5, seed = 1),
               "class 1 lies in two 'school' units")
})

test_that("a model of interest: compatible imputation of a random slope, factor outcome labels", {
  need_python()
  set.seed(4)
  school <- rep(1:20, each = 15)
  z <- rnorm(300)
  x <- 0.4 * z + rnorm(300)
  y <- 1 + (0.5 + rnorm(20, sd = 0.5)[school]) * x + 0.3 * z + rnorm(20)[school] + rnorm(300)
  d <- data.frame(school, y, x, z)
  d$x[sample(300, 90)] <- NA
  d$y[sample(300, 30)] <- NA
  imp <- mlimpute(d, model = y ~ x * z + (1 + x | school), m = 2, burnin = 50, between = 10,
                  seed = 1)
  spec <- mlimpute_spec(imp)
  expect_match(spec, '"formula": "y ~ x \\* z \\+ \\(1 \\+ x \\| school\\)"')
  expect_match(spec, '"cluster": "school"')
  for (k in 1:2) {
    expect_false(anyNA(imp[[k]][c("x", "y")]))
    expect_identical(imp[[k]]$x[!is.na(d$x)], d$x[!is.na(d$x)])
  }
  fits <- with(mitml::as.mitml.list(imp), lme4::lmer(y ~ x * z + (1 + x | school)))
  expect_true("x:z" %in% rownames(mitml::testEstimates(fits)$estimates))
  pooled <- mlimpute_pool(imp)          # the model the imputation was compatible with
  expect_true(all(c("x:z", "var(school:x)") %in% pooled$term))
  # a binary factor outcome comes back as the factor it was (probit)
  d$pass <- factor(ifelse(d$y > 1, "yes", "no"))
  d$pass[sample(300, 30)] <- NA
  bin <- mlimpute(d[c("school", "pass", "x", "z")], model = pass ~ x + z + (1 | school), m = 2,
                  burnin = 50, between = 10, seed = 1)
  expect_identical(levels(bin[[1]]$pass), c("no", "yes"))
  expect_false(anyNA(bin[[1]]$pass))
  expect_error(mlimpute(d, model = y ~ x + (1 | school), family = "logit", m = 2, seed = 1),
               "logit is not available")
})

test_that("arguments are checked in R, naming the argument, before Python is called", {
  d <- ratings()
  f <- ReadDis + SES ~ 1 + ReadAchiev + (1 | ID)
  expect_error(mlimpute(d, f, m = NA), "'m' must be a whole number >= 1 or \"auto\", got NA")
  expect_error(mlimpute(d, f, burnin = NA), "'burnin' must be a whole number >= 0")
  expect_error(mlimpute(d, f, between = 2.5), "'between' must be a whole number >= 1 .*got 2.5")
  expect_error(mlimpute(d, f, chains = -1), "'chains' must be a whole number >= 1")
  expect_error(mlimpute(d, f, m = "5"), "'m' must be .*got \"5\"")
  expect_error(mlimpute(d, f, seed = c(1, 2)), "'seed' must be a whole number >= 0, got c\\(1, 2\\)")
  expect_error(mlimpute(d, f, se_cv = 2), "'se_cv' must be a number between 0 and 1")
  expect_error(mlimpute(d, f, quiet = NA), "'quiet' must be TRUE or FALSE, got NA")
  expect_error(mlimpute(d, cluster = NA), "'cluster' must be column names, got NA")
  expect_error(mlimpute(d, f, family = "poisson"), "'family' must be one of")
  expect_error(mlimpute_sensitivity(d, "ReadDis", c(0, 0), ReadAchiev ~ ReadDis), "gives 0 twice")
  expect_error(mlimpute_sensitivity(d, "ReadDis", c(0, NA), ReadAchiev ~ ReadDis),
               "'deltas' must be finite numbers")
})

test_that("columns the model does not use come back with their class (AsIs lists, Dates)", {
  need_python()
  d <- ratings()
  d$notes <- I(lapply(seq_len(nrow(d)), function(k) letters[seq_len(1 + k %% 3)]))
  d$when <- as.Date("2020-01-01") + seq_len(nrow(d))
  imp <- mlimpute(d, ReadDis + SES ~ 1 + ReadAchiev + (1 | ID), m = 2, burnin = 20, between = 5,
                  seed = 1)
  expect_s3_class(imp[[1]]$notes, "AsIs")
  expect_identical(unclass(imp[[2]]$notes), unclass(d$notes))
  expect_s3_class(imp[[1]]$when, "Date")
  expect_identical(imp[[1]]$when, d$when)
})
