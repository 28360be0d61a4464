*! mlimpute 0.1.0  multilevel multiple imputation (REALCOM-IMPUTE joint model)
*! Runs the Python package mlimpute and leaves the data mi-set in flong style.
*! The checks live in Python (mlimpute.frontends.stata_entry); this file only passes options on.
program define mlimpute, rclass
    version 14
    syntax [varlist(default=none numeric)] [if] [in], CLuster(varlist) ///
        [CROSSed M(string) BURNin(string) BETween(string) SEED(integer -1) ///
         MAXBURNin(string) PILOTm(string) SECV(string) DELta(string asis) ///
         ORDinal(varlist numeric) CATegorical(varlist numeric) BINary(varlist numeric) ///
         CONTinuous(varlist numeric) COVariates(varlist numeric) EXclude(varlist) ///
         RANDOMslopes(varlist numeric) LEVEL1wgt(varname numeric) LEVEL2wgt(varname numeric) ///
         CHAINS(integer 1) SPEC(string) REPort(string) MODel(string) FAMily(string) ///
         JOINTonly ///
         SAVing(string asis) PYthon(string) QUIETly SHELL]

    * saving(filename [, replace]) as Stata's own commands take it, checked before the run
    local saving_replace ""
    if `"`saving'"' != "" {
        local 0 `"`saving'"'
        syntax anything(name=saving_file id="filename") [, REPLACE]
        local saving_replace "`replace'"
        if "`saving_replace'" == "" {
            confirm new file `saving_file'
        }
    }
    if `seed' > 2147483647 {
        display as error "mlimpute: seed() must be at most 2147483647, the largest seed Stata takes"
        exit 198
    }
    * the name of the data in memory, given back after the imputed data are loaded
    local filename `"`c(filename)'"'

    * every observation is kept; the ones outside if/in are marked, not dropped
    marksample touse, novarlist
    tempfile input output errors
    local input  "`input'.dta"
    local output "`output'.dta"

    * the variables to impute: the varlist, or with spec() the spec's responses (a varlist
    * given with spec() must name the same variables)
    if "`varlist'" == "" & `"`spec'"' == "" {
        display as error "mlimpute: give the variables to impute, or spec() with a spec file that names them"
        exit 102
    }

    * the options exactly as the mlimpute command line takes them
    local args `"impute "`input'" -o "`output'" --cluster `cluster'"'
    if "`varlist'" != "" local args `"`args' --responses `varlist'"'
    * m(), burnin() and between() take a number or "auto" (checked by mlimpute)
    if "`m'" == "" local m 20
    if "`burnin'" == "" local burnin 1000
    if "`between'" == "" local between 500
    local args `"`args' --m `m' --burnin `burnin' --between `between' --chains `chains'"'
    if "`maxburnin'" != "" local args `"`args' --max-burnin `maxburnin'"'
    if "`pilotm'" != "" local args `"`args' --pilot-m `pilotm'"'
    if "`secv'" != "" local args `"`args' --se-cv `secv'"'
    * delta("y=-0.3" "z=0.2 if girl==1"): one --delta per quoted shift
    foreach shift of local delta {
        local args `"`args' --delta "`shift'""'
    }
    local args `"`args' --sample `touse'"'
    * cluster(class school): nested, innermost first; with crossed, crossed classifications
    if "`crossed'" != "" local args `"`args' --crossed"'
    if `seed' >= 0 {
        local args `"`args' --seed `seed'"'
    }
    foreach opt in ordinal categorical binary continuous covariates exclude {
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
    if `"`spec'"' != "" {
        local args `"`args' --spec "`spec'""'
    }
    if `"`report'"' != "" {
        local args `"`args' --report "`report'""'
    }
    * model(): the model of interest, part of the imputation model (compatible imputation)
    if `"`model'"' != "" {
        local args `"`args' --model "`model'""'
    }
    if "`family'" != "" local args `"`args' --family `family'"'
    if "`jointonly'" != "" local args `"`args' --joint-only"'

    if "`quietly'" != "" {
        local args `"`args' --quiet"'
    }
    * Finding Python, in the order the help file's "Finding Python" section gives
    local runner ""
    * python search 1: the python() option
    local pyexe `"`python'"'
    * python search 2: global MLIMPUTE_PYTHON
    if `"`pyexe'"' == "" local pyexe `"$MLIMPUTE_PYTHON"'
    * python search 3: Stata 16+'s own Python (python set exec), when it imports mlimpute
    local stata_python ""
    if `"`pyexe'"' == "" & c(stata_version) >= 16 & "`shell'" == "" {
        capture python which mlimpute
        if !_rc {
            local runner "python"
        }
        else {
            capture python: import os, sys; from sfi import Macro; Macro.setLocal("stata_python", next((p for p in (os.path.join(sys.exec_prefix, "python.exe"), os.path.join(sys.exec_prefix, "bin", "python3")) if os.path.isfile(p)), ""))
        }
    }
    * python search 4: the interpreter mlimpute install-stata recorded in mlimpute_python.txt
    if `"`pyexe'"' == "" & "`runner'" == "" {
        capture findfile mlimpute_python.txt
        if !_rc {
            tempname ph
            file open `ph' using `"`r(fn)'"', read text
            file read `ph' pyexe
            file close `ph'
            local pyexe = strtrim(`"`pyexe'"')
        }
    }
    * python search 5: the mlimpute command on the PATH
    if "`runner'" == "" local runner "shell"
    if `"`pyexe'"' != "" {
        capture confirm file `"`pyexe'"'
        if _rc {
            display as error `"mlimpute: the Python interpreter `pyexe' does not exist; in a terminal run: pip install mlimpute && mlimpute install-stata (it records the Python that has mlimpute)"'
            exit 601
        }
    }

    preserve
    quietly save "`input'", replace

    local notes ""
    if "`runner'" == "python" {
        * the arguments one by one, split by Stata's own rules (quotes, no escapes: a UNC
        * path or a path ending in \ arrives as typed); Python reads them through sfi
        local mlimpute_argc 0
        local rest `"`args'"'
        while `"`rest'"' != "" {
            gettoken arg rest : rest
            local ++mlimpute_argc
            local mlimpute_arg`mlimpute_argc' `"`arg'"'
            local rest = strtrim(`"`rest'"')
        }
        python: from mlimpute.frontends.stata_entry import run_from_stata; run_from_stata()
        local rc = `mlimpute_rc'
        local message `"`mlimpute_error'"'
        local notes `"`mlimpute_notes'"'
    }
    else {
        local command "mlimpute"
        if `"`pyexe'"' != "" {
            local command `""`pyexe'" -m mlimpute"'
        }
        * progress as lines, which the Results window shows
        if "`quietly'" == "" local args `"`args' --progress=lines"'
        shell `command' `args' 2> "`errors'"
        capture confirm file "`output'"
        local rc = _rc
        local message ""
        local nomodule 0
        tempname fh
        capture file open `fh' using "`errors'", read text
        if !_rc {
            file read `fh' line
            while r(eof) == 0 {
                if substr(`"`line'"', 1, 16) == "mlimpute: error:" {
                    local message `"`line'"'
                }
                else if substr(`"`line'"', 1, 9) == "mlimpute:" {
                    display as text `"`line'"'
                }
                else if strpos(`"`line'"', "No module named") {
                    local nomodule 1
                }
                file read `fh' line
            }
            file close `fh'
        }
        if `rc' & `"`message'"' == "" {
            * the one command that fixes it, for where Python was looked for
            if `"`pyexe'"' != "" & `nomodule' {
                local message `"mlimpute: error: the Python `pyexe' does not have the mlimpute package; in a terminal run: "`pyexe'" -m pip install mlimpute"'
            }
            else if `"`stata_python'"' != "" {
                local message `"mlimpute: error: Stata's Python cannot import mlimpute; in a terminal run: "`stata_python'" -m pip install mlimpute"'
            }
            else if `"`pyexe'"' == "" {
                local message "mlimpute: error: no Python with mlimpute was found; in a terminal run: pip install mlimpute && mlimpute install-stata (it records that Python for this command)"
            }
            else {
                local message `"mlimpute: error: the mlimpute command could not be run with `pyexe'"'
            }
        }
    }
    foreach note of local notes {
        display as text `"`note'"'
    }
    capture erase "`input'"
    if `rc' {
        capture erase "`output'"
        display as error `"`message'"'
        exit 498
    }

    * the data in memory are replaced only once the result has loaded
    capture noisily use "`output'", clear
    local loaded = _rc
    capture erase "`output'"
    if `loaded' {
        display as error "mlimpute: the imputed data could not be loaded; your data are unchanged"
        exit `loaded'
    }
    restore, not
    capture drop `touse'
    * the data keep the user's name (a later save, replace writes there, not to c(tmpdir))
    global S_FN `"`filename'"'
    if `"`saving_file'"' != "" {
        save `saving_file', `saving_replace'
    }
    mi describe

    * stored results: what the run used and chose, read from the imputed data
    return scalar M = `: char _dta[_mi_M]'
    foreach what in seed burnin between chains {
        local value : char _dta[mlimpute_`what']
        if "`value'" != "" return scalar `what' = `value'
    }
    foreach what in max_rhat min_ess {
        local value : char _dta[mlimpute_`what']
        if "`value'" != "" return scalar `what' = `value'
    }
    return local converged `"`: char _dta[mlimpute_converged]'"'
    return local ivars `"`: char _dta[_mi_ivars]'"'
    return local model `"`: char _dta[mlimpute_model]'"'
end
