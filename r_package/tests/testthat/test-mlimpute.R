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
  mids <- as.mids(imp)
  expect_s3_class(mids, "mids")
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
