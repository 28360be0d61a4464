*! mlimpute 0.1.0  multilevel multiple imputation (REALCOM-IMPUTE joint model)
*! Runs the Python package mlimpute and leaves the data mi-set in flong style.
program define mlimpute
    version 14
    syntax varlist(min=1 numeric) [if] [in], CLuster(varname) ///
        [M(integer 20) BURNin(integer 1000) BETween(integer 500) SEED(integer -1) ///
         ORDinal(varlist numeric) CATegorical(varlist numeric) BINary(varlist numeric) ///
         COVariates(varlist numeric) RANDOMslopes(varlist numeric) ///
         LEVEL1wgt(varname numeric) LEVEL2wgt(varname numeric) CHAINS(integer 1) ///
         SAVing(string) REPLACE SHELL]

    marksample touse, novarlist
    tempfile input output errors
    local input  "`input'.dta"
    local output "`output'.dta"

    * the options exactly as the mlimpute command line takes them
    local args `"impute "`input'" -o "`output'" --cluster `cluster' --responses `varlist'"'
    local args `"`args' --m `m' --burnin `burnin' --between `between' --chains `chains' --quiet"'
    if `seed' >= 0 {
        local args `"`args' --seed `seed'"'
    }
    foreach opt in ordinal categorical binary covariates {
        if "``opt''" != "" {
            local args `"`args' --`opt' ``opt''"'
        }
    }
    if "`randomslopes'" != "" {
        local args `"`args' --random-slopes `randomslopes'"'
    }
    if "`level1wgt'" != "" {
        local args `"`args' --level1-weight `level1wgt'"'
    }
    if "`level2wgt'" != "" {
        local args `"`args' --level2-weight `level2wgt'"'
    }

    preserve
    quietly keep if `touse'
    quietly save "`input'", replace

    * Stata 16+ with the Python package importable: run in-process; otherwise shell out
    local runner "shell"
    if c(stata_version) >= 16 & "`shell'" == "" {
        capture python which mlimpute
        if !_rc {
            local runner "python"
        }
    }
    if "`runner'" == "python" {
        python: from mlimpute.stata_entry import run_from_stata; run_from_stata(r'''`args' ''')
        local rc = `mlimpute_rc'
        local message `"`mlimpute_error'"'
    }
    else {
        shell mlimpute `args' 2> "`errors'"
        capture confirm file "`output'"
        local rc = _rc
        local message ""
        if `rc' {
            tempname fh
            file open `fh' using "`errors'", read text
            file read `fh' message
            file close `fh'
        }
    }
    if `rc' {
        display as error `"`message'"'
        exit 498
    }

    restore, not
    quietly use "`output'", clear
    if "`saving'" != "" {
        save `"`saving'"', `replace'
    }
    mi describe
end
