# Sourced by conformance.sh and sched-conformance.sh: build_twin <Module> <program> compiles a
# spec module with a `main` and every spec module it imports (dependencies first, from their
# `import` lines) to a native program, with $lean, $leanc, $stdlib, $spec and $work set by
# the caller and LEAN_PATH covering "$work/olean".  It exits on the first error.

# twin_order <Module>: the modules to compile, dependencies first, into the array `order`.
twin_order() {
	local m=$1 dep
	for dep in "${order[@]}" "${visiting[@]}"; do [ "$dep" = "$m" ] && return; done
	visiting+=("$m")
	for dep in $(sed -n 's/^import \([A-Za-z0-9_.]*\)$/\1/p' "$spec/${m//.//}.lean"); do
		[ -f "$spec/${dep//.//}.lean" ] && twin_order "$dep"
	done
	order+=("$m")
}

build_twin() {
	local main=$1 out=$2 m f log
	order=() visiting=()
	twin_order "$main"
	local csrcs=()
	for m in "${order[@]}"; do
		f=${m//.//}
		mkdir -p "$work/olean/$(dirname "$f")" "$work/c/$(dirname "$f")"
		log=$(cd "$spec" && "$lean" -o "$work/olean/$f.olean" -c "$work/c/$f.c" "$f.lean" 2>&1) \
			|| { echo "$log"; echo "FAIL: lean $f.lean"; exit 1; }
		csrcs+=("$work/c/$f.c")
	done
	# -L first, so that libInit.a matching the .olean files wins over the one next to leanc.
	log=$("$leanc" -O1 -L"$stdlib" -o "$out" "${csrcs[@]}" 2>&1) \
		|| { echo "$log"; echo "FAIL: leanc"; exit 1; }
	echo "built the Lean twin from ${#order[@]} modules: ${order[*]}"
}
