package dev.loraort.trainer.plot;

import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import org.w3c.dom.Document;
import org.xml.sax.InputSource;
import org.xml.sax.SAXException;

/** Charts read back as XML, so a test fails on SVG that a viewer would reject. */
public final class SvgDocuments {
  private SvgDocuments() {}

  /**
   * @param svg the document's text
   * @return the parsed document
   */
  public static Document parse(String svg)
      throws IOException, SAXException, ParserConfigurationException {
    return DocumentBuilderFactory.newInstance()
        .newDocumentBuilder()
        .parse(new InputSource(new StringReader(svg)));
  }

  /**
   * @param file an .svg file
   * @return the parsed document
   */
  public static Document read(Path file)
      throws IOException, SAXException, ParserConfigurationException {
    return parse(Files.readString(file));
  }
}
