/**
 * Raster charts for the files a run or a study leaves behind ({@code curves.png}, {@code
 * study.png}): one small drawing class, {@link dev.loraort.trainer.plot.Chart}, on Java's own 2D
 * API.
 */
package dev.loraort.trainer.plot;
