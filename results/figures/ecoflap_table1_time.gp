# prunelab plot script 'ecoflap_table1_time' (kind bars): reads ecoflap_table1_time.dat, writes ecoflap_table1_time.<format>.
# Re-style it here and run `gnuplot ecoflap_table1_time.gp` in this folder; `prunelab plot` rewrites it.
data = 'ecoflap_table1_time.dat'
set datafile separator tab
set datafile missing '?'
set linetype 1 lc rgb '#4e79a7' lw 2 pt 7 ps 1.2 dt 1
set linetype 2 lc rgb '#f28e2b' lw 2 pt 5 ps 1.2 dt 1
set linetype 3 lc rgb '#e15759' lw 2 pt 9 ps 1.2 dt 1
set linetype 4 lc rgb '#76b7b2' lw 2 pt 13 ps 1.2 dt 1
set linetype 5 lc rgb '#59a14f' lw 2 pt 11 ps 1.2 dt 1
set linetype 6 lc rgb '#edc948' lw 2 pt 15 ps 1.2 dt 1
set linetype 7 lc rgb '#b07aa1' lw 2 pt 4 ps 1.2 dt 1
set linetype 8 lc rgb '#ff9da7' lw 2 pt 6 ps 1.2 dt 1
set title 'mini_blip2 at 50%: pruning time per stage'
set ylabel 'seconds'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set yrange [0:*]
set grid ytics
set key outside right top Left reverse
set xtics nomirror rotate by 30 right
do for [fmt in 'svg png'] {
  if (fmt eq 'svg') {
    set terminal svg size 1100,550 dynamic noenhanced font 'sans,12' background rgb 'white'
  }
  if (fmt eq 'png') {
    if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
      set terminal pngcairo size 1100,550 noenhanced font 'sans,11' background rgb 'white'
    } else {
      set terminal png size 1100,550 noenhanced background rgb 'white'
    }
  }
  set output 'ecoflap_table1_time.'.fmt
  plot data using 2:xtic(1) lt 1 lw 1 title 'allocate', \
       '' using 5 lt 2 lw 1 title 'calibrate', \
       '' using 8 lt 3 lw 1 title 'coarse', \
       '' using 11 lt 4 lw 1 title 'fine', \
       '' using 14 lt 5 lw 1 title 'outliers', \
       '' using 17 lt 6 lw 1 title 'prune', \
       '' using 20 lt 7 lw 1 title 'scores', \
       '' using 23 lt 8 lw 1 title 'select'
  unset output
}
