# The PNG of a bench/run.sh result: one panel per case, a bar per competitor (its throughput),
# each labelled with its ratio to the case's reference row (the first bar).  Rows that failed
# or were skipped have no bar, and say so.  bench/run.sh runs it; to redraw a result:
#   gnuplot -e "dat='bench/results/run-X.dat'; png='bench/results/run-X.png'" bench/plot.gp
set datafile separator "\t"
set datafile missing "-"
# The cases are the .dat's blocks; each opens with "# case<TAB>i<TAB>unit<TAB>title".
case_field(i, f) = system(sprintf("awk -F'\\t' '$1 == \"# case\" && $2 == %d {printf \"%%s\", $%d}' '%s'", i, f, dat))
ncases = int(system(sprintf("grep -c '^# case' '%s'", dat)))
header = system(sprintf("sed -n 's/^# lean-uring bench.run.sh, //p; s/^# machine: //p' '%s' | paste -sd '\n'", dat))
ratio_label(r) = (r eq "" || r eq "-") ? "" : r . "x"
why_no_bar(result) = result eq "ok" ? "" : result[1:6] eq "FAILED" ? "FAILED" : "skipped"
cols = 3
rows = (ncases + cols - 1) / cols

set terminal pngcairo noenhanced size 620 * cols, 470 * rows + 60 font "sans,10"
set output png
set multiplot layout rows, cols title header font "sans,11"
set style fill solid 0.85 border -1
set boxwidth 0.7
set yrange [0:*]
set offsets 0.5, 0.5, graph 0.1, 0
set xtics rotate by 25 right nomirror font "sans,9"
set ytics nomirror
set grid ytics
set bmargin 7
set lmargin 11
unset key
do for [i = 1:ncases] {
  set title case_field(i, 4)
  set ylabel case_field(i, 3)
  plot dat index (i - 1) using 0:3:xtic(2) with boxes lc rgb "#4477aa", \
       '' index (i - 1) using 0:3:(ratio_label(stringcolumn(7))) with labels offset 0, 0.8 font "sans,9", \
       '' index (i - 1) using 0:(0):(why_no_bar(stringcolumn(8))):xtic(2) \
          with labels rotate by 90 left offset 0, 0.5 font "sans,9" tc rgb "#aa3333"
}
unset multiplot
