package io.ublk.server.cli;

/** Entry point of {@code bin/ublk-server}. */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    System.out.println("ublk-server");
  }
}
