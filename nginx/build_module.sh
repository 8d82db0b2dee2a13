#!/usr/bin/env bash
# Build ngx_http_streamreg_module.so the way Debian builds its libnginx-mod-*
# packages: nginx's own configure from nginx-dev (/usr/share/nginx/src) with
# Debian's flags (conf_flags, which include --with-compat) and
# --add-dynamic-module, then "make modules".  Called by CMake (nginx/CMakeLists.txt).
#
#   build_module.sh NGINX_SRC MODULE_DIR OUT_DIR "INCLUDE DIRS" "LINK FLAGS"
set -euo pipefail
ngx_src=$1 module_dir=$2 out_dir=$3 incs=$4 libs=$5
work=$out_dir/nginx-build
mkdir -p "$work"
# The link flags go to gcc in a response file: nginx's configure evaluates
# ngx_module_libs twice and make once more, which would eat "$ORIGIN".
rsp=$out_dir/module-link.rsp
printf '%s\n' "$libs" >"$rsp.new"
cmp -s "$rsp.new" "$rsp" || mv "$rsp.new" "$rsp"
rm -f "$rsp.new"
libs="@$rsp"
# configure is the slow step (4 s): rerun it only when its inputs change.
stamp="${CC:-cc}|$incs|$libs|$(md5sum "$module_dir/config" | cut -d' ' -f1)|$(cat "$ngx_src/conf_flags")"
if [[ ! -f $work/objs/Makefile || "$(cat "$work/stamp" 2>/dev/null)" != "$stamp" ]]; then
	rm -rf "$work"
	cp -r "$ngx_src" "$work"
	cd "$work"
	# shellcheck disable=SC1091
	. ./conf_flags
	if ! SR_NGX_INCS="$incs" SR_NGX_LIBS="$libs" ./configure "${NGX_CONF_FLAGS[@]}" \
		--with-cc-opt="-g -O2 -fPIC -fstack-protector-strong -Wformat -Werror=format-security -D_FORTIFY_SOURCE=2" \
		--with-ld-opt="-Wl,-z,relro -Wl,-z,now -fPIC" \
		--add-dynamic-module="$module_dir" >configure.log 2>&1; then
		tail -n 30 configure.log >&2
		echo "build_module.sh: nginx configure failed (log: $work/configure.log)" >&2
		exit 1
	fi
	printf '%s' "$stamp" >stamp
fi
cd "$work"
if ! make -f objs/Makefile modules >make.log 2>&1; then
	cat make.log >&2
	exit 1
fi
# A new file, renamed into place: an nginx running the old one keeps its
# mapping intact (copying over it would change the code under it).
cp objs/ngx_http_streamreg_module.so "$out_dir/.ngx_http_streamreg_module.so.new"
mv -f "$out_dir/.ngx_http_streamreg_module.so.new" "$out_dir/ngx_http_streamreg_module.so"
