#!/usr/bin/env bash
# Rebuild book/_vendor/dist/ from the npm registry, at the versions pinned in
# package.json and package-lock.json (integrity hashes checked by `npm ci`).
#
# The HTML book serves these files itself, so a page never asks a CDN for anything:
#   dist/mathjax/         MathJax 3: tex-chtml.js and every file it may load at run time
#                         (TeX extensions, CHTML fonts, menu, accessibility)
#   dist/require.js       RequireJS, which the widget manager needs
#   dist/html-manager/    @jupyter-widgets/html-manager's embed-amd.js and its fonts
#   dist/licenses/        the licences of all of the above
#
# Usage: bash book/_vendor/refresh.sh     (needs node and npm; takes about 15 s)
# To move to new versions: edit package.json, run `npm install --package-lock-only`
# in this folder, then this script, rebuild the book and run `make book-check`.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cp "$here/package.json" "$here/package-lock.json" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
nm="$work/node_modules"

dist="$here/dist"
rm -rf "$dist"
mkdir -p "$dist/mathjax" "$dist/html-manager" "$dist/licenses"

# MathJax: the combined TeX-to-CHTML component plus what it loads lazily. Left out on
# purpose: latest.js (it fetches from a CDN), the node-only files and other combinations.
mj="$nm/mathjax/es5"
cp "$mj/tex-chtml.js" "$dist/mathjax/"
mkdir -p "$dist/mathjax/input"
cp -r "$mj/input/tex" "$dist/mathjax/input/"      # TeX extensions loaded by \require or autoload
for sub in output ui a11y sre; do                  # fonts, the other renderer, menu, explorer
  cp -r "$mj/$sub" "$dist/mathjax/"
done

cp "$nm/requirejs/require.js" "$dist/require.js"

hm="$nm/@jupyter-widgets/html-manager/dist"
cp "$hm/embed-amd.js" "$dist/html-manager/"
# Font Awesome fonts that the widgets' CSS (bundled in embed-amd.js) points to.
for f in "$hm"/*.woff2 "$hm"/*.woff "$hm"/*.ttf "$hm"/*.eot "$hm"/*.svg; do
  cp "$f" "$dist/html-manager/"
done

lic="$dist/licenses"
cp "$nm/mathjax/LICENSE" "$lic/mathjax-LICENSE.txt"
cp "$hm/embed.js.LICENSE.txt" "$lic/html-manager-bundled-third-party-LICENSES.txt"
cp "$nm/@fortawesome/fontawesome-free/LICENSE.txt" "$lic/fontawesome-free-LICENSE.txt"
cp "$here/LICENSES.md" "$lic/README.md"

# Record exactly what was copied.
python3 - "$work" "$dist" <<'PY'
import json, pathlib, sys
work, dist = map(pathlib.Path, sys.argv[1:])
lock = json.loads((work / "package-lock.json").read_text())["packages"]
lines = []
for name in ("mathjax", "requirejs", "@jupyter-widgets/html-manager"):
    entry = lock[f"node_modules/{name}"]
    lines.append(f"{name}@{entry['version']} {entry['license']} {entry['integrity']}")
(dist / "VERSIONS.txt").write_text("\n".join(lines) + "\n")
PY
echo "book/_vendor/dist refreshed:"
cat "$dist/VERSIONS.txt"
du -sh "$dist"
