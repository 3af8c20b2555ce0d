/* uthreads test: start and join a named thread every 100 ms. */
public class CorebpfThreads {
    public static void main(String[] args) throws Exception {
        System.out.println("ready");
        System.out.flush();
        for (int i = 0; ; i++) {
            Thread t = new Thread(() -> {}, "corebpf-worker-" + i);
            t.start();
            t.join();
            Thread.sleep(100);
        }
    }
}
