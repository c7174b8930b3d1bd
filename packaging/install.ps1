# Install the planner on a Windows machine with no network, from a wheelhouse that
# `py -3.12 -m pip wheel --wheel-dir wheelhouse .` built on a Windows machine.
#
#   powershell -ExecutionPolicy Bypass -File install.ps1 -Wheelhouse wheelhouse
#   ... -Wheelhouse wheelhouse -EnvFolder C:\planner-env -Python "py -3.11"
#
# It creates a virtual environment, installs with `pip install --no-index --find-links`
# (pip never looks for an index) and runs `planner demo` once to prove the install works.
param(
    [Parameter(Mandatory = $true)][string]$Wheelhouse,
    [string]$EnvFolder = "$env:LOCALAPPDATA\planner-env",
    [string]$Python = "py -3.12"
)
$ErrorActionPreference = "Stop"
if (-not (Test-Path (Join-Path $Wheelhouse "*.whl"))) {
    Write-Error "error: $Wheelhouse holds no wheels: copy the whole wheelhouse folder"
    exit 2
}
$exe, $rest = $Python -split " ", 2
& $exe @($rest | Where-Object { $_ }) -m venv $EnvFolder
if ($LASTEXITCODE -ne 0) { Write-Error "error: $Python could not create $EnvFolder"; exit 2 }
& "$EnvFolder\Scripts\python.exe" -m pip install --no-index --disable-pip-version-check --quiet `
    --find-links $Wheelhouse llm-inference-planner
if ($LASTEXITCODE -ne 0) { Write-Error "error: the install from $Wheelhouse failed (see above)"; exit 2 }
& "$EnvFolder\Scripts\planner.exe" demo | Out-Null
if ($LASTEXITCODE -ne 0) { Write-Error "error: the installed planner did not run its demo"; exit 2 }
Write-Output "installed: $EnvFolder\Scripts\planner.exe and $EnvFolder\Scripts\planner-gui.exe"
