#!/bin/sh
# Install MCS into a Python environment: the pinned requirements and the mcs-provider distribution.
#
#   sh scripts/install.sh PYTHON
#
# `make install` runs it with .venv/bin/python and the Dockerfile with the image's python, so the
# install that the tests run against and the one that ships in the image are the same commands.
# Change the install here, never in the Makefile or the Dockerfile.
set -eu

if [ "$#" -ne 1 ]; then
    echo "usage: sh scripts/install.sh PYTHON" >&2
    exit 2
fi

python=$1
# A relative path (.venv/bin/python) is taken from where the script was called, before the cd below.
case $python in
    */*) python="$(cd "$(dirname "$python")" && pwd)/$(basename "$python")" ;;
esac
cd "$(dirname "$0")/.."

"$python" -m pip install --upgrade --quiet pip
"$python" -m pip install --quiet -r requirements.txt -e mcs_provider
