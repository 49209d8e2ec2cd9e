# prunelab plot script 'ecoflap_table1_blocks' (kind blocks): reads ecoflap_table1_blocks.dat, writes ecoflap_table1_blocks.<format>.
# Re-style it here and run `gnuplot ecoflap_table1_blocks.gp` in this folder; `prunelab plot` rewrites it.
data = 'ecoflap_table1_blocks.dat'
set datafile separator tab
set datafile missing '?'
set linetype 1 lc rgb '#4e79a7' lw 2 pt 7 ps 1.2 dt 1
set linetype 2 lc rgb '#f28e2b' lw 2 pt 5 ps 1.2 dt 1
set linetype 3 lc rgb '#e15759' lw 2 pt 9 ps 1.2 dt 1
set yrange [0.33:0.592]
set xlabel 'block'
set ylabel 'allocated sparsity'
set grid
set bars small
do for [fmt in 'svg png'] {
  if (fmt eq 'svg') {
    set terminal svg size 1100,450 dynamic noenhanced font 'sans,12' background rgb 'white'
  }
  if (fmt eq 'png') {
    if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
      set terminal pngcairo size 1100,450 noenhanced font 'sans,11' background rgb 'white'
    } else {
      set terminal png size 1100,450 noenhanced background rgb 'white'
    }
  }
  set output 'ecoflap_table1_blocks.'.fmt
  set multiplot layout 1,2 title 'mini_blip2 at 50%: sparsity allocated per block'
  set title 'vision'
  set xrange [-0.5:3.5]
  set xtics ('0' 0, '1' 1, '2' 2, '3' 3)
  set key top left Left reverse samplen 2
  plot data index 0 using 1:2 with linespoints lt 1 title 'ECoFLaP (zeroth order)', \
       data index 1 using 1:2 with linespoints lt 2 title 'OWL', \
       data index 2 using 1:2 with linespoints lt 3 title 'uniform (Wanda)'
  set title 'language'
  set xrange [-0.5:3.5]
  set xtics ('0' 0, '1' 1, '2' 2, '3' 3)
  unset key
  plot data index 3 using 1:2 with linespoints lt 1 title 'ECoFLaP (zeroth order)', \
       data index 4 using 1:2 with linespoints lt 2 title 'OWL', \
       data index 5 using 1:2 with linespoints lt 3 title 'uniform (Wanda)'
  unset multiplot
  unset output
}
