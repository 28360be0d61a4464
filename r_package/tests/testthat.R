library(testthat)
library(mlimpute)
test_check("mlimpute")
