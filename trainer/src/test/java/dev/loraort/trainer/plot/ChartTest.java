package dev.loraort.trainer.plot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChartTest {
  private static final Chart.Axis Y = new Chart.Axis("y", 0, 1, "%.2f", Color.DARK_GRAY);

  @Test
  void dataCoordinatesLandOnTheirPixels() {
    // 400 x 290: plot area from x 70 to 330 (260 wide), y 40 to 240 (200 high)
    Chart c = new Chart(400, 290, -0.5, 1.5, Y, null);
    assertThat(c.px(-0.5)).isEqualTo(70);
    assertThat(c.px(1.5)).isEqualTo(330);
    assertThat(c.px(0.5)).isEqualTo(200);
    assertThat(c.py(0, Y)).isEqualTo(240);
    assertThat(c.py(1, Y)).isEqualTo(40);
    assertThat(c.py(0.25, Y)).isEqualTo(190);
    c.point(0.5, 0.25, Y, Color.RED, 10);
    BufferedImage img = c.image();
    assertThat(new Color(img.getRGB(200, 190))).isEqualTo(Color.RED);
    assertThat(new Color(img.getRGB(200, 150))).isEqualTo(Color.WHITE);
  }

  @Test
  void anErrorBarSpansItsRange() {
    Chart c = new Chart(400, 290, -0.5, 1.5, Y, null);
    c.errorBar(0.5, 0.25, 0.75, Y, Color.BLUE);
    BufferedImage img = c.image();
    // from row 190 (0.25) up to row 90 (0.75), none beyond
    assertThat(new Color(img.getRGB(200, 150))).isEqualTo(Color.BLUE);
    assertThat(new Color(img.getRGB(200, 80))).isEqualTo(Color.WHITE);
    assertThat(new Color(img.getRGB(200, 200))).isEqualTo(Color.WHITE);
  }

  @Test
  void evenTicksAndBadRanges() {
    assertThat(Chart.evenTicks(0, 60).stream().map(Chart.Tick::label).toList())
        .isEqualTo(List.of("0", "15", "30", "45", "60"));
    assertThatThrownBy(() -> new Chart.Axis("acc", 1, 1, "%.2f", Color.BLACK))
        .hasMessageContaining("acc: needs lo < hi, got [1.0, 1.0]");
  }
}
