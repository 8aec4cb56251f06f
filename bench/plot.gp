# plot.gp — docs/perf-issuance.png: the SP's issuance latency per algorithm set, over the socket
# without and with the durable commit, with the sum of its OpenSSL primitives beside each bar.
# Input is what `bench_sp issue --json` prints (one JSON object); bench/run.sh --plot runs both.
#
#   gnuplot -c bench/plot.gp ISSUE.json [OUT.png]
#
# gnuplot reads no JSON, so two seds turn each case into one line:
#   "name" nocommit_median min max durable_median min max primitive_sum

if (ARGC < 1) {
	print "usage: gnuplot -c bench/plot.gp ISSUE.json [OUT.png]"
	exit status 2
}
out = (ARGC >= 2) ? ARG2 : "docs/perf-issuance.png"
split_cases = 's/{"case":/\n/g'
fields = 's/^"\([^"]*\)".*"sp_nocommit_ms":{"median":\([0-9.]*\),"min":\([0-9.]*\),"max":\([0-9.]*\)},"sp_durable_ms":{"median":\([0-9.]*\),"min":\([0-9.]*\),"max":\([0-9.]*\)}.*"sum":\([0-9.]*\).*/"\1" \2 \3 \4 \5 \6 \7 \8/p'
data = "< sed '" . split_cases . "' '" . ARG1 . "' | sed -n '" . fields . "'"

set terminal pngcairo size 1100,560 font "DejaVu Sans,10"
set output out
set title "selfcert-spd issuance latency over the socket vs the sum of its OpenSSL primitives\n(median of the rounds; bars show min-max; log scale)"
set ylabel "milliseconds per issuance"
set logscale y
set yrange [0.2:100]
set xrange [-0.6:3.6]
set grid ytics
set key top left box opaque
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics noenhanced font ",9"
set key noenhanced
plot data using 2:3:4:xtic(1) title "SP issue, no commit (tmpfs)" lc rgb "#4477aa", \
     ''   using 8:8:8 title "sum of primitives (OpenSSL, same run)" lc rgb "#bbbbbb", \
     ''   using 5:6:7 title "SP issue, durable commit (disk)" lc rgb "#cc6677"
