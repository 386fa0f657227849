/**
 * SVG charts for the files a run or a study leaves behind ({@code curves.svg}, {@code study.svg}):
 * one small drawing class, {@link dev.loraort.trainer.plot.Chart}, that writes the document as text
 * and so needs no fonts or graphics libraries where it runs.
 */
package dev.loraort.trainer.plot;
