#!/bin/sh
# Renders the symbology test images of tests/unit/scanner/symbology_test.cpp
# with Debian's zint (apt install zint; made with zint 2.11.1) and turns two
# with ImageMagick (apt install imagemagick; CONVERT= names its convert). The
# images are committed; run this only to change or add one, then update
# truth.csv.
#   usage: tests/data/symbologies/generate.sh
set -eu
cd "$(dirname "$0")"
z() { out=$1; shift; zint --scale=2 --whitesp=10 --vwhitesp=10 -o "$out" "$@"; }
z upce.png          -b UPCE_CHK  -d 01234565          # number system 0, last digit 6: 012345000065
z upce_ns1.png      -b UPCE_CHK  -d 11234562          # number system 1
z upce_addon2.png   -b UPCE_CHK  -d 01234565+12       # EAN-2 add-on (issue number)
z upca_addon5.png   -b UPCA_CHK  -d 042100005264+52495 # EAN-5 add-on (suggested price)
z ean13_addon2.png  -b EANX_CHK  -d 4006381333931+05
z ean8.png          -b EANX_CHK  -d 40170725
z itf14.png         -b ITF14     -d 1950600013435 --bind
z dbar_omni.png     -b DBAR_OMN  -d 09506000134352
z dbar_stacked.png  -b DBAR_OMNSTK -d 09506000134352
z dbar_limited.png  -b DBAR_LTD  -d 01234567890128
z dbar_expanded.png -b DBAR_EXP  -d "[01]09506000134352[3103]001250[10]ABC12"
# Turned by 3° (and the first then by 270°): ZXing-cpp 1.4 aborted on both
# (Result::operator== asserting lineCount() == 1, upstream issue 740) until
# Tally read DataBar in a call of its own (zxing_adapter.hpp).
"${CONVERT:-convert}" dbar_omni.png -rotate 3 -rotate 270 -background white -flatten dbar_omni_skewed.png
z expanded.tmp.png   -b DBAR_EXP  -d "[01]09506000134352[10]ABC12"
"${CONVERT:-convert}" expanded.tmp.png -rotate 3 -background white -flatten dbar_expanded_skewed.png
rm expanded.tmp.png
