# prunelab plot script 'ecoflap_table1_curve' (kind curve): reads ecoflap_table1_curve.dat, writes ecoflap_table1_curve.<format>.
# Re-style it here and run `gnuplot ecoflap_table1_curve.gp` in this folder; `prunelab plot` rewrites it.
data = 'ecoflap_table1_curve.dat'
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
set linetype 9 lc rgb '#9c755f' lw 2 pt 8 ps 1.2 dt 1
set linetype 10 lc rgb '#bab0ac' lw 2 pt 10 ps 1.2 dt 1
set title 'mini_blip2: VQA accuracy vs achieved sparsity (ECoFLaP Table 1 runs)'
set xlabel 'achieved sparsity (all pruned matrices)'
set ylabel 'VQA accuracy'
set grid
set key outside right top Left reverse samplen 2
set bars small
do for [fmt in 'svg png'] {
  if (fmt eq 'svg') {
    set terminal svg size 1000,550 dynamic noenhanced font 'sans,12' background rgb 'white'
  }
  if (fmt eq 'png') {
    if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
      set terminal pngcairo size 1000,550 noenhanced font 'sans,11' background rgb 'white'
    } else {
      set terminal png size 1000,550 noenhanced background rgb 'white'
    }
  }
  set output 'ecoflap_table1_curve.'.fmt
  plot data index 0 using 1:3 with linespoints lt 1 title 'global_magnitude', \
       data index 1 using 1:3 with linespoints lt 2 title 'global_gradient', \
       data index 2 using 1:3 with linespoints lt 3 title 'magnitude', \
       data index 3 using 1:3 with linespoints lt 4 title 'wanda', \
       data index 4 using 1:3 with linespoints lt 5 title 'sparsegpt', \
       data index 5 using 1:3 with linespoints lt 6 title 'owl', \
       data index 6 using 1:3 with linespoints lt 7 title 'ecoflap_first, batch_size=1', \
       data index 7 using 1:3 with linespoints lt 8 title 'ecoflap_first, batch_size=8', \
       data index 8 using 1:3 with linespoints lt 9 title 'ecoflap_zeroth', \
       data index 9 using 1:3 with linespoints lt 10 title 'ecoflap_zeroth_sparsegpt'
  unset output
}
