package dev.loraort.artifacts;

/** Text for the XML files the project writes (JUnit reports, SVG charts). */
public final class Xml {
  private Xml() {}

  /**
   * @param s any text
   * @return the text escaped for element content and double-quoted attribute values alike
   */
  public static String escape(String s) {
    return s.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\"", "&quot;");
  }
}
