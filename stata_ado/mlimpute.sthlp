{smcl}
{* *! version 0.1.0}{...}
{title:Title}

{phang}
{bf:mlimpute} {hline 2} Multilevel multiple imputation with the REALCOM-IMPUTE joint model

{title:Syntax}

{p 8 17 2}
{cmd:mlimpute} [{varlist}] {ifin}{cmd:,} {opt cl:uster(varlist)} [{it:options}]

{synoptset 26 tabbed}{...}
{synopthdr}
{synoptline}
{synopt:{opt cl:uster(varlist)}}identifier of the level-2 units (required); several for
three or more levels, innermost first: {cmd:cluster(class school)} (nested, checked: a class in
two schools is an error) or, with {opt crossed}, {cmd:cluster(school area)}{p_end}
{synopt:{opt m(#|auto)}}number of imputations; default 20; {cmd:auto}: a pilot of {opt pilotm()} imputations sizes M so that standard errors are replicable to a coefficient of variation {opt secv()} (von Hippel 2020){p_end}
{synopt:{opt burn:in(#|auto)}}burn-in iterations; default 1000; {cmd:auto}: until every parameter has R-hat < 1.01 and bulk ESS >= 400, at most {opt maxburnin()} iterations{p_end}
{synopt:{opt bet:ween(#|auto)}}iterations between kept imputations; default 500; {cmd:auto}: the first lag at which every parameter's autocorrelation is below 0.05{p_end}
{synopt:{opt maxburn:in(#)}}cap of {cmd:burnin(auto)} per chain; default 20000{p_end}
{synopt:{opt pilotm(#)}}pilot imputations of {cmd:m(auto)}; default 20{p_end}
{synopt:{opt secv(#)}}coefficient of variation of the standard errors {cmd:m(auto)} aims for; default 0.05{p_end}
{synopt:{opt del:ta("y=# [if cond]" ...)}}MNAR sensitivity: add # to the imputed values of {it:y} (latent scale for binary/ordinal), optionally only where {it:cond} holds; several shifts as several quoted strings{p_end}
{synopt:{opt seed(#)}}random-number seed; default: a random seed{p_end}
{synopt:{opt chains(#)}}independent chains, each with its own burn-in; default 1{p_end}
{synopt:{opt ord:inal(varlist)}}responses that are ordinal{p_end}
{synopt:{opt cat:egorical(varlist)}}responses that are unordered categorical{p_end}
{synopt:{opt bin:ary(varlist)}}responses that are binary{p_end}
{synopt:{opt cov:ariates(varlist)}}fully observed covariates; default: every other fully observed variable{p_end}
{synopt:{opt random:slopes(varlist)}}covariates with cluster-level random slopes (in the first classification){p_end}
{synopt:{opt cross:ed}}the variables of {opt cluster()} are crossed classifications, not nested{p_end}
{synopt:{opt level1:wgt(varname)}}level-1 sampling weight{p_end}
{synopt:{opt level2:wgt(varname)}}level-2 sampling weight{p_end}
{synopt:{opt cont:inuous(varlist)}}responses that are continuous (overrides the type read from the data){p_end}
{synopt:{opt ex:clude(varlist)}}variables left out of the model (ids, notes){p_end}
{synopt:{opt spec(filename)}}a model spec file (TOML/JSON) written by {cmd:mlimpute propose}; it names the
variables to impute, so {varlist} may be omitted (if given, it must name the same variables){p_end}
{synopt:{opt rep:ort(filename)}}also write an HTML report (diagnostics, posterior means){p_end}
{synopt:{opt mod:el(string)}}model of interest in lme4 notation, e.g. {cmd:"y ~ x * z + I(x^2) + (1 + x | school)"}: part of the imputation model (its outcome is imputed from it and its incomplete covariates so that it holds: interactions, squares and random slopes of incomplete covariates); also the report's model and what {cmd:m(auto)} sizes M for{p_end}
{synopt:{opt fam:ily(string)}}the {opt model()} outcome's distribution: {cmd:auto} (default; probit for two categories), {cmd:gaussian} or {cmd:probit}{p_end}
{synopt:{opt joint:only}}impute with the joint model alone; {opt model()} then only names the report's model and what {cmd:m(auto)} sizes M for{p_end}
{synopt:{opt sav:ing(filename[, replace])}}also save the mi data set; {opt replace} allows overwriting{p_end}
{synopt:{opt py:thon(path)}}the Python interpreter that has the package (see {help mlimpute##python:Finding Python}){p_end}
{synopt:{opt quiet:ly}}no progress, summary or convergence warnings{p_end}
{synopt:{opt shell}}run the {cmd:mlimpute} command line even where Stata's Python is available{p_end}
{synoptline}

{title:Description}

{pstd}
{cmd:mlimpute} imputes the variables in {varlist} (the responses) with the two-level joint model of
Carpenter, Goldstein & Kenward (2011): continuous responses are normal, binary and ordinal ones probit,
categorical ones maximum-indicant probit; variables constant within clusters are level-2 responses.
It saves the data to a temporary file, runs the Python package {cmd:mlimpute} (in-process through
Stata 16's {cmd:python} when the package is importable, otherwise with {cmd:shell mlimpute}) and loads
the result: the data in memory are then {cmd:mi} set in flong style, so that for example
{cmd:mi estimate: mixed y x || school:} works next.

{pstd}
With {cmd:if} or {cmd:in}, every observation is kept: the model is fitted to, and imputes, the
observations in the sample, and the others are carried unchanged into every imputation, as
{cmd:mi impute} does. Extended missing values {cmd:.a}-{cmd:.z} are hard missing: never imputed, and
back with their tags in every imputation. Value labels keep their set names, variables their
labels and display formats. Data that are already {cmd:mi} set are refused (use {cmd:mi extract 0}).
The data in memory are replaced only when the result has loaded; after any error they are
unchanged. Convergence warnings ("increase between") are shown unless {opt quietly}.

{title:Installation}

{pstd}
The command needs the Python package {cmd:mlimpute} (Python 3.11 or later). In a terminal:

{phang2}{cmd:pip install mlimpute}{p_end}
{phang2}{cmd:mlimpute install-stata}{p_end}

{pstd}
The second line copies this command into your PERSONAL ado folder ({cmd:--plus}: PLUS; or give a
folder), records the Python that has mlimpute in {cmd:mlimpute_python.txt} beside it, and prints the
{cmd:python set exec} line that lets Stata 16 or later run mlimpute in-process. From a copy of the
files instead:

{phang2}{cmd:. net install mlimpute, from(}{it:folder holding stata.toc}{cmd:)}{p_end}

{marker python}{...}
{title:Finding Python}

{pstd}
{cmd:mlimpute} runs the Python package with the first of these that is given or works:

{phang2}1. the interpreter in option {opt python(path)} (run through the shell);{p_end}
{phang2}2. the interpreter in global {cmd:MLIMPUTE_PYTHON} (run through the shell);{p_end}
{phang2}3. Stata 16's own Python ({cmd:python set exec}), when it can import mlimpute (run in-process, unless option {opt shell});{p_end}
{phang2}4. the interpreter {cmd:mlimpute install-stata} recorded in {cmd:mlimpute_python.txt} beside the ado (run through the shell);{p_end}
{phang2}5. the {cmd:mlimpute} command on the PATH (run through the shell).{p_end}

{pstd}
When none of them can run mlimpute, the error names the one command that fixes it: for example
{cmd:"}{it:python}{cmd:" -m pip install mlimpute} for an interpreter that lacks the package, or
{cmd:pip install mlimpute && mlimpute install-stata} when no Python was found. Your data are
unchanged.

{title:Stored results}

{pstd}{cmd:mlimpute} stores the following in {cmd:r()}:{p_end}

{synoptset 20 tabbed}{...}
{p2col 5 20 24 2: Scalars}{p_end}
{synopt:{cmd:r(M)}}number of imputations{p_end}
{synopt:{cmd:r(seed)}}the seed used (drawn at random when {opt seed()} was not given; at most 2147483647, so {cmd:set seed} takes it){p_end}
{synopt:{cmd:r(burnin)}}burn-in iterations per chain (as {cmd:burnin(auto)} chose them){p_end}
{synopt:{cmd:r(between)}}iterations between kept imputations (as {cmd:between(auto)} chose them){p_end}
{synopt:{cmd:r(chains)}}number of chains{p_end}
{synopt:{cmd:r(max_rhat)}}largest R-hat of the parameters after burn-in{p_end}
{synopt:{cmd:r(min_ess)}}smallest bulk effective sample size of the parameters after burn-in{p_end}
{p2col 5 20 24 2: Macros}{p_end}
{synopt:{cmd:r(ivars)}}the imputed variables{p_end}
{synopt:{cmd:r(converged)}}{cmd:yes}, or {cmd:no} when a convergence warning was shown{p_end}
{synopt:{cmd:r(model)}}the model of interest recorded for {cmd:mlimpute pool}, if any{p_end}

{pstd}The same values are kept in the data as characteristics ({cmd:_dta[mlimpute_seed]}, ...), so
they travel with a saved file.{p_end}

{title:Example}

{phang2}{cmd:. mlimpute nmatpost nlitpost nmatpre nlitpre csize4, cluster(class) categorical(csize4) covariates(fsm) m(20) seed(2011)}{p_end}
{phang2}{cmd:. mi estimate: mixed nmatpost nmatpre i.csize4 || class:}{p_end}

{pstd}Let the run choose its burn-in, gap and number of imputations (what it chose is shown and kept in {opt saving()}'s spec):{p_end}

{phang2}{cmd:. mlimpute nmatpost nlitpost, cluster(class) covariates(nmatpre fsm) burnin(auto) between(auto) m(auto) model("nmatpost ~ nmatpre + (1 | class)") seed(1)}{p_end}

{pstd}Impute compatibly with the model of interest, here a random slope of the incomplete {cmd:nmatpre} and its interaction with {cmd:fsm} (the joint model alone would bias both); {cmd:nmatpost} is imputed from the model itself, {cmd:nmatpre} so that the model holds:{p_end}

{phang2}{cmd:. mlimpute nmatpost nmatpre, cluster(class) model("nmatpost ~ nmatpre * fsm + (1 + nmatpre | class)") seed(1)}{p_end}
{phang2}{cmd:. mi estimate: mixed nmatpost c.nmatpre##i.fsm || class: nmatpre, covariance(unstructured)}{p_end}

{pstd}Sensitivity to data missing not at random: the same seed with the imputed {cmd:nmatpost} shifted by -0.4 ... 0.4 (0 is the MAR analysis); the command line's {cmd:mlimpute sensitivity} does the grid in one call:{p_end}

{phang2}{cmd:. foreach d in -0.4 -0.2 0 0.2 0.4 {c -(}}{p_end}
{phang3}{cmd:. preserve}{p_end}
{phang3}{cmd:. mlimpute nmatpost nlitpost, cluster(class) covariates(nmatpre fsm) seed(1) delta("nmatpost=`d'")}{p_end}
{phang3}{cmd:. mi estimate: mixed nmatpost nmatpre || class:}{p_end}
{phang3}{cmd:. restore}{p_end}
{phang2}{cmd:. {c )-}}{p_end}

{pstd}Variance components, correlations and ICCs of a (nested or crossed) model of interest with standard errors and intervals, and the number of imputations the standard errors need, come from mlimpute's {cmd:pool} on the data set {opt saving()} wrote ({cmd:mi estimate} does not pool variance components); {cmd:sensitivity} runs the whole MNAR grid:{p_end}

{phang2}{cmd:. mlimpute nmatpost nlitpost, cluster(class) covariates(nmatpre fsm) seed(1) saving(cs_mi, replace)}{p_end}
{phang2}{cmd:. shell mlimpute pool cs_mi.dta --model "nmatpost ~ nmatpre + (1 | school/class)"}{p_end}
{phang2}{cmd:. shell mlimpute sensitivity pupils.dta --cluster class --response nmatpost --deltas -0.4 0 0.4 --model "nmatpost ~ nmatpre + (1 | class)" -o sens.dta --plot sens.png}{p_end}
